"""Base classes shared by every record kind.

Three families of records, told apart by how they are identified:

* `Definition`: hand-edited YAML named by a slug (its file or folder name), e.g. a task or a prompt.
* `MachineRecord`: JSON written by kilngit, append-only, whose `id` is a hash of its content.
* `Annotation`-like records: JSON owned by one person, at a path derived from (person, run).

Every record has a `kind` and a format version `v`. Unknown fields are refused (`extra="forbid"`), so a
typo or a field from a newer kilngit is never silently dropped.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from kilngit.records.canonical import content_id, to_file_bytes
from kilngit.records.sharing import unshare_fields

FORMAT_VERSION = 1
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_SLUG_RE = re.compile(SLUG_PATTERN)


def is_slug(text: str) -> bool:
    """True when `text` is a valid slug: lowercase letters, digits, '-' and '_', at most 64 characters."""
    return bool(_SLUG_RE.match(text))


def slugify(text: str) -> str:
    """A slug made from free text ("GPT-4o mini (few shot)" -> "gpt-4o-mini-few-shot")."""
    slug = re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_")[:64].strip("-_")
    return slug or "unnamed"


class Record(BaseModel):
    """A record of any kind. Subclasses set `kind` as a Literal with a default."""

    # Built on first use, not at import: a command pays only for the kinds it reads (building all of them
    # was most of every command's start-up). Field docstrings are read only when shown (kilngit.records.field_docs).
    model_config = ConfigDict(extra="forbid", validate_assignment=False, defer_build=True)

    kind: str
    v: int = Field(default=FORMAT_VERSION, description="Format version of this record.")

    #: Short human description of the kind, used in messages.
    label: ClassVar[str] = "record"

    def __setattr__(self, name: str, value: Any) -> None:
        # A loaded record shares its fields set with records of its shape (kilngit.records.sharing).
        unshare_fields(self)
        super().__setattr__(name, value)

    def to_data(self) -> dict[str, Any]:
        """The record as a JSON-compatible dict, `None` fields left out (so new optional fields keep old IDs)."""
        return self.model_dump(mode="json", exclude_none=True)


class Definition(Record):
    """A hand-edited, slug-named definition stored as YAML."""


class MachineRecord(Record):
    """An append-only, content-addressed JSON record."""

    id: str = Field(
        default="", description="Content hash of this record (see docs/format.md); set by kilngit."
    )

    def with_id(self) -> MachineRecord:
        """A copy whose `id` is the hash of its content."""
        return self.model_copy(update={"id": content_id(self.to_data())})

    def expected_id(self) -> str:
        """The ID this record's content implies."""
        return content_id(self.to_data())

    def to_bytes(self) -> bytes:
        """The canonical file bytes of this record."""
        return to_file_bytes(self.to_data())


class OwnedRecord(Record):
    """A JSON record owned by one person (identified by its path, not by a hash), e.g. an annotation."""

    def to_bytes(self) -> bytes:
        """The canonical file bytes of this record."""
        return to_file_bytes(self.to_data())
