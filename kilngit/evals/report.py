"""`kilngit report`: one static HTML page (inline CSS and SVG; no server, no CDN, no script) with every eval's
scoreboard, judge alignment, confusion matrices and disagreements, readable from disk or as a GitHub Pages
artifact.

Other packages add sections without touching this module: a *section provider* is a function
`provider(project) -> list[Section]`. Pass providers to `write_report(..., extra=[...])`, or name them in
`SECTION_HOOKS` ("module:function", imported when the module exists), e.g. the fine-tune loop's loss curves
and per-round charts (`kilngit.evals.report_svg.line_chart` draws curves).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from kilngit import layout
from kilngit._git import run_git
from kilngit._io import atomic_write
from kilngit.project import Project
from kilngit.records import slugify


@dataclass(frozen=True)
class Section:
    """A titled part of the report; `html` is trusted markup (escape what you put in it)."""

    title: str
    html: str
    anchor: str = ""

    @property
    def id(self) -> str:
        return self.anchor or slugify(self.title)


SectionProvider = Callable[[Project], list[Section]]

#: Section providers other packages offer, as "module:function"; a module that does not exist is skipped.
SECTION_HOOKS: list[str] = [
    "kilngit.finetune.report:report_sections",
    "kilngit.evals.audit_report:report_sections",
]

DEFAULT_OUT = f"{layout.LOCAL_STATE}/report"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 0; }
header { background: #111827; color: #f9fafb; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; } header p { margin: 2px 0 0; color: #d1d5db; }
nav { padding: 8px 24px; border-bottom: 1px solid #e5e7eb; } nav a { margin-right: 14px; }
main { padding: 8px 24px 40px; max-width: 1200px; }
h2 { border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; margin-top: 32px; }
h3 { margin: 20px 0 6px; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #e5e7eb; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.num { text-align: right; min-width: 40px; }
.scroll { overflow-x: auto; } .notes { color: #4b5563; font-size: 12px; margin: 2px 0 10px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; } .charts svg { background: #fafafa; border: 1px solid #eee; }
details { margin: 6px 0; } summary { cursor: pointer; } code { font-size: 12px; }
table.confusion td, table.confusion th { text-align: center; }
"""


def eval_sections(project: Project) -> list[Section]:
    """One section per eval of every task."""
    from kilngit.evals.report_sections import eval_section_html

    sections = []
    for task in project.tasks():
        for eval_slug, ev in project.evals(task).items():
            title = f"{task} / {ev.name}" if ev.name != eval_slug else f"{task} / {eval_slug}"
            sections.append(
                Section(title, eval_section_html(project, task, eval_slug), f"eval-{task}-{eval_slug}")
            )
    return sections


def hooked_providers() -> list[SectionProvider]:
    """The providers named in `SECTION_HOOKS` whose modules exist."""
    out = []
    for target in SECTION_HOOKS:
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                continue  # that package is not installed or not written yet
            raise
        provider = getattr(module, attr, None)
        if provider is not None:
            out.append(provider)
    return out


def render_report(project: Project, sections: Sequence[Section]) -> str:
    """The whole page."""
    commit = run_git(project.root, "rev-parse", "--short", "HEAD", check=False)
    subtitle = f"commit {commit}" if commit else "not committed yet"
    nav = "".join(f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{s.html}</section>' for s in sections
    )
    if not sections:
        body = "<p>No evals yet: create tasks/&lt;task&gt;/evals/&lt;eval&gt;/eval.yaml and run it.</p>"
    name = escape(project.manifest.name)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{name}: kilngit report</title>'
        f"<style>{CSS}</style></head><body><header><h1>{name}</h1><p>kilngit report, {escape(subtitle)}</p>"
        f"</header><nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


def report_sections(project: Project, extra: Sequence[SectionProvider] = ()) -> list[Section]:
    """Every section of the report: the evals', then the hooked and `extra` providers'. `kilngit serve` shows
    the same sections, so both have one rendering path."""
    sections = eval_sections(project)
    for provider in [*hooked_providers(), *extra]:
        sections += provider(project)
    return sections


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
