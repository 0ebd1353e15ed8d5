"""Human annotations: one file per (person, run), so two people never edit the same file."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, model_validator

from kilngit.records.base import OwnedRecord
from kilngit.records.common import Rating

#: The one form `rated_at` takes: UTC, whole seconds, a `Z` suffix (so times sort as text).
RATED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def utc_stamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as a `rated_at` value. A naive datetime is taken to be UTC already."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(stamp: str) -> datetime:
    """A `rated_at` value as an aware UTC datetime."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


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
    reference: str | None = None
    """A reference answer: what a correct output says (free text, or JSON text for structured outputs);
    judges compare outputs with it."""
    kiln_id: str | None = None
    rated_at: str | None = None
    """When this annotation was last written, UTC to the second (`2026-12-01T19:30:05Z`). Missing on
    annotations written before kilngit recorded it; imports keep the source's own time."""
    seconds_on_item: float | None = Field(default=None, ge=0)
    """How long the run was on screen in `kilngit label` before this rating, in seconds (0.1 s steps)."""

    @model_validator(mode="after")
    def _rated_at(self) -> Annotation:
        if self.rated_at is not None and not RATED_AT.fullmatch(self.rated_at):
            raise ValueError(
                f"rated_at {self.rated_at!r} is not UTC to the second (e.g. 2026-12-01T19:30:05Z)"
            )
        return self

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
            self.rating
            or self.requirements
            or self.tags_added
            or self.tags_removed
            or self.note
            or self.repaired_output
            or self.reference
        )
