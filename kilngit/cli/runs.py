"""`kilngit runs`: list runs, filtered, as a table, JSON or JSON lines."""

from __future__ import annotations

import json

import click

from kilngit.cli._common import current_project, format_option, print_json
from kilngit.errors import UsageError


@click.command()
@click.option("--task", help="Task whose runs to list (default: the only task).")
@click.option(
    "--filter", "filter_", default="all", show_default=True, help="Run filter, e.g. 'rated & !tag::golden'."
)
@click.option(
    "--columns",
    help="Comma-separated columns (default: id,config,input,output,consensus,judges,tags; "
    "also task, model, source, error, cost, latency_ms, raters).",
)
@click.option(
    "--width",
    type=click.IntRange(min=8),
    default=40,
    show_default=True,
    help="Table: characters kept of inputs and outputs.",
)
@format_option("table", "json", "jsonl")
def runs(task: str | None, filter_: str, columns: str | None, width: int, fmt: str) -> None:
    """List runs: ID prefix, run config, short input and output, consensus rating, judge scores, tags.

    JSON and JSON lines carry full IDs, inputs and outputs."""
    from kilngit.views import COLUMNS, EXTRA_COLUMNS, list_runs

    cols = tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else COLUMNS
    unknown = [c for c in cols if c not in COLUMNS + EXTRA_COLUMNS]
    if unknown:
        raise UsageError(f"unknown column {unknown[0]!r}", f"columns: {', '.join(COLUMNS + EXTRA_COLUMNS)}")
    rows = list_runs(current_project(), task, filter_)
    if fmt == "json":
        print_json([r.to_dict(cols) for r in rows])
    elif fmt == "jsonl":
        for r in rows:
            click.echo(json.dumps(r.to_dict(cols), sort_keys=True, ensure_ascii=False))
    else:
        _table(rows, cols, width)


def _table(rows, cols: tuple[str, ...], width: int) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for c in cols:
        wide = c in ("input", "output")
        table.add_column(c, no_wrap=not wide, overflow="ellipsis", min_width=min(width, 24) if wide else None)
    for r in rows:
        table.add_row(*(r.cell(c, width) for c in cols))
    console = Console(width=max(100, Console().width))
    console.print(table)
    console.print(f"{len(rows)} run(s)", style="dim")
