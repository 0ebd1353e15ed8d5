"""`kilngit report`: one static HTML page (inline CSS and SVG; no server, no CDN, no script) with every eval's
scoreboard, judge alignment, confusion matrices and disagreements, readable from disk or as a GitHub Pages
artifact.

This module renders the page and the eval sections; `kilngit.report` lists every section provider (a function
`provider(project) -> list[Section]`) and writes the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from kilngit import layout
from kilngit._git import run_git
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


def render_report(project: Project, sections: Sequence[Section]) -> str:
    """The whole page."""
    commit = run_git(project.root, "rev-parse", "--short", "HEAD", check=False)
    # Only the project's own files count (a report written into the project must not mark itself dirty).
    dirty = (
        commit
        and run_git(
            project.root,
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            "kilngit.yaml",
            "tasks",
            check=False,
        ).strip()
    )
    subtitle = (
        (f"commit {commit}" + (" with uncommitted changes" if dirty else ""))
        if commit
        else "not committed yet"
    )
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
