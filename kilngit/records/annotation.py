"""Human annotations: one file per (person, run), so two people never edit the same file."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from kilngit.records.base import OwnedRecord
from kilngit.records.common import Rating


class Annotation(OwnedRecord):
    """One person's judgement of one run: ratings, tag changes, a note and a repaired output."""

    kind: Literal["annotation"] = "annotation"
    task: str
    run: str
    """ID of the annotated run."""
    rater: str
    """Who wrote this annotation (usually an email)."""
    rating: Rating | None = None
    """Overall rating of the run's output."""
    requirements: dict[str, Rating] = {}
    """Per-requirement ratings, keyed by requirement name."""
    tags_added: list[str] = []
    tags_removed: list[str] = []
    note: str | None = None
    repaired_output: str | None = None
    """A corrected output, usable for fine-tuning instead of the original."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _tags(self) -> Annotation:
        for field in ("tags_added", "tags_removed"):
            tags = getattr(self, field)
            if tags != sorted(set(tags)):
                raise ValueError(f"{field} must be sorted and unique")
        both = set(self.tags_added) & set(self.tags_removed)
        if both:
            raise ValueError(f"tags both added and removed: {', '.join(sorted(both))}")
        return self

    @property
    def is_empty(self) -> bool:
        """True when the annotation says nothing (and its file can be deleted)."""
        return not (
            self.rating or self.requirements or self.tags_added or self.tags_removed or self.note
            or self.repaired_output
        )
