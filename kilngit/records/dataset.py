"""Dataset splits: a definition (filter, parts, seed) and its frozen membership."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kilngit.records.base import SLUG_PATTERN, Definition, OwnedRecord
from kilngit.records.common import Strict


class SplitPart(Strict):
    """A named part of a split and the fraction of items it gets."""

    name: str = Field(pattern=SLUG_PATTERN)
    fraction: float = Field(gt=0, le=1)


class DatasetSplit(Definition):
    """Which runs to train and test on, split deterministically."""

    kind: Literal["dataset_split"] = "dataset_split"
    description: str | None = None
    filter: str = "all"
    """Run filter choosing the candidate runs."""
    parts: list[SplitPart] = Field(min_length=1)
    seed: int = 0
    allow_eval_items: bool = False
    """Allow runs that are in an eval set or golden set (excluded by default so evals stay honest)."""
    all_runs: bool = False
    """Take every run the filter matches, input-only and failed ones too (frozen eval and golden sets);
    by default only runs with an output and no error."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _fractions(self) -> DatasetSplit:
        total = sum(p.fraction for p in self.parts)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"part fractions must add up to 1 (they add up to {total:g})")
        names = [p.name for p in self.parts]
        if len(names) != len(set(names)):
            raise ValueError("part names must be unique")
        return self


class SplitMembership(OwnedRecord):
    """The membership of a split, frozen when first materialized so later runs never move items."""

    kind: Literal["split_membership"] = "split_membership"
    task: str
    split: str
    definition_hash: str
    """Hash of the split definition the membership was computed from."""
    parts: dict[str, list[str]]
    """Part name -> sorted run IDs."""
