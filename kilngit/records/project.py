"""The project manifest: `kilngit.yaml` at the project root."""

from __future__ import annotations

from typing import Literal

from kilngit.records.base import Definition


class ProjectManifest(Definition):
    """Marks the root of a kilngit project and names it."""

    kind: Literal["project"] = "project"
    name: str
    """Human name of the project."""
    description: str | None = None
    kiln_id: str | None = None
    """ID of the Kiln project this was imported from, if any."""
