"""`kilngit report`: every section provider, registered here explicitly, and the page written from them.

A section provider is a function `provider(project) -> list[Section]`; a new kind of section is one entry in
`SECTIONS` (or, for one report, `write_report(..., extra=[provider])`). This module sits above `evals` and
`finetune` so that neither has to know the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kilngit._io import atomic_write
from kilngit.evals import audit_report
from kilngit.evals.report import DEFAULT_OUT, Section, SectionProvider, render_report
from kilngit.evals.report_sections import eval_sections
from kilngit.finetune import report as finetune_report
from kilngit.project import Project

__all__ = ["SECTIONS", "Section", "SectionProvider", "report_sections", "write_report"]

#: The report's sections, in order: every eval's, every fine-tune's, then the label audit's.
SECTIONS: tuple[SectionProvider, ...] = (
    eval_sections,
    finetune_report.report_sections,
    audit_report.report_sections,
)


def report_sections(project: Project, extra: Sequence[SectionProvider] = ()) -> list[Section]:
    """Every section of the report (`SECTIONS`, then `extra`). `kilngit serve` shows the same sections, so
    both have one rendering path."""
    return [section for provider in (*SECTIONS, *extra) for section in provider(project)]


def write_report(
    project: Project, out: str | Path | None = None, extra: Sequence[SectionProvider] = ()
) -> Path:
    """Write `index.html` into `out` (default `.kilngit/report` in the project) and return its path."""
    sections = report_sections(project, extra)
    folder = Path(out) if out is not None else project.root / DEFAULT_OUT
    path = folder.absolute() / "index.html"
    atomic_write(path, render_report(project, sections).encode("utf-8"))
    path.chmod(0o644)  # served as a web page: readable by all (atomic writes create private files)
    return path
