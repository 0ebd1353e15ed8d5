"""Run lists as pages show them: the runs a filter chooses, as rows of named columns, sorted and paged.

Words for ratings and shortened texts come from `kilngit.views` (what `kilngit runs` prints). Its
`list_runs` builds a row for every matching run; a page builds rows only for the 50 it shows, so 100k runs
stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kilngit.evals.items import group_of
from kilngit.project import Project
from kilngit.state import RunState
from kilngit.views import consensus_word, short


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    cell: Callable[[RunState], str]
    sort: Callable[[RunState], Any]


def _usage(state: RunState, field: str) -> float | None:
    usage = state.run.usage
    return getattr(usage, field) if usage else None


def _rating_sort(state: RunState) -> tuple[float, str]:
    c = state.rating
    return (-9.0 if c is None or c.value is None else c.value, (c.label or "") if c else "")


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:.5f}"


COLUMNS: dict[str, Column] = {
    c.name: c
    for c in (
        Column("id", "run", lambda s: s.id[:10], lambda s: s.id),
        Column("input", "input", lambda s: short(s.run.input, 120), lambda s: s.run.input),
        Column(
            "output",
            "output",
            lambda s: (
                short(s.run.output, 120)
                if s.run.output is not None
                else (f"(error: {s.run.error.type})" if s.run.error else "(input only)")
            ),
            lambda s: s.run.output or "",
        ),
        Column(
            "config",
            "made by",
            lambda s: group_of(s.run) if s.run.output is not None else "",
            lambda s: group_of(s.run),
        ),
        Column("rating", "rating", lambda s: consensus_word(s.rating) if s.rating else "", _rating_sort),
        Column(
            "raters",
            "raters",
            lambda s: str(sum(1 for a in s.annotations if a.rating or a.requirements) or ""),
            lambda s: len(s.annotations),
        ),
        Column("tags", "tags", lambda s: " ".join(sorted(s.tags)), lambda s: sorted(s.tags)),
        Column("cost", "cost", lambda s: _money(_usage(s, "cost")), lambda s: _usage(s, "cost") or 0.0),
        Column(
            "latency",
            "latency",
            lambda s: "" if _usage(s, "latency_ms") is None else f"{_usage(s, 'latency_ms'):.0f} ms",
            lambda s: _usage(s, "latency_ms") or 0.0,
        ),
        Column(
            "tokens",
            "tokens out",
            lambda s: str(_usage(s, "output_tokens") or ""),
            lambda s: _usage(s, "output_tokens") or 0,
        ),
    )
}
DEFAULT_COLUMNS = ("id", "input", "output", "config", "rating", "tags")


@dataclass(frozen=True)
class RunPage:
    """One page of a run list."""

    columns: list[Column]
    rows: list[tuple[str, list[str]]]
    """(run ID, cells)."""
    matched: int
    total: int
    page: int
    pages: int
    sort: str
    descending: bool


def select_sorted(
    project: Project, task: str, filter_text: str = "all", sort: str = "id", descending: bool = False
) -> list[RunState]:
    """The runs of `task` matching `filter_text`, sorted by column `sort` (ties in ID order)."""
    flt = project.run_filter(task, filter_text or "all")
    chosen = [s for s in project.states(task).values() if flt.matches(s)]
    column = COLUMNS.get(sort, COLUMNS["id"])
    if column.name == "id":
        chosen.sort(key=lambda s: s.id, reverse=descending)
    else:
        chosen.sort(key=lambda s: (column.sort(s), s.id), reverse=descending)
    return chosen


def run_page(
    chosen: list[RunState],
    total: int,
    columns: list[str] | None = None,
    sort: str = "id",
    descending: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> RunPage:
    """Page `page` (1-based) of runs chosen by `select_sorted`, as rows of `columns`."""
    cols = [COLUMNS[c] for c in (columns or DEFAULT_COLUMNS) if c in COLUMNS] or [
        COLUMNS[c] for c in DEFAULT_COLUMNS
    ]
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(page, 1), pages)
    window = chosen[(page - 1) * per_page : page * per_page]
    rows = [(s.id, [c.cell(s) for c in cols]) for s in window]
    return RunPage(
        cols, rows, len(chosen), total, page, pages, COLUMNS.get(sort, COLUMNS["id"]).name, descending
    )
