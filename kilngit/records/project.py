"""The project manifest: `kilngit.yaml` at the project root."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kilngit.records.base import Definition
from kilngit.records.common import ProjectPath, Strict


class Recordings(Strict):
    """The project's record/replay cache of model answers (see docs/providers.md)."""

    mode: Literal["record", "replay", "off"] = "off"
    """Default cache mode for commands that call models (`--cache` and $KILNGIT_CACHE override it)."""
    path: ProjectPath = "recordings"
    """Folder, relative to the project root, holding the recorded answers."""


class ProjectManifest(Definition):
    """Marks the root of a kilngit project and names it."""

    kind: Literal["project"] = "project"
    name: str
    """Human name of the project."""
    description: str | None = None
    kiln_id: str | None = None
    """ID of the Kiln project this was imported from, if any."""
    recordings: Recordings | None = None
    """Where recorded model answers live and whether commands use them by default."""
    layout: int = Field(default=1, ge=1)
    """Folder layout of the project's record files (see docs/format.md); absent means 1, the layout before
    it was recorded. `kilngit migrate` moves an older project to the layout this kilngit writes."""
