"""`kilngit status`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kilngit.cache import early
from kilngit.cli._common import cli_state, current_project, format_option, print_json

if TYPE_CHECKING:
    from kilngit.status import ProjectStatus


@click.command()
@format_option("text", "json")
def status(fmt: str) -> None:
    """Counts per task: runs, ratings, disputes, evals, problems and pending work."""
    with early.git_first(cli_state().project_dir or Path.cwd()):  # git runs while the code below is imported
        _status(fmt)


def _status(fmt: str) -> None:
    from kilngit.status import project_status

    if fmt == "text":  # printed at the end: imported while git runs (JSON needs no rich)
        import rich.console  # noqa: F401
        import rich.table  # noqa: F401
    st = project_status(current_project())
    if fmt == "json":
        print_json(st.to_dict())
        return
    _print(st)


def _print(st: ProjectStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    from kilngit.providers.batch_jobs import describe

    console = Console()
    console.print(
        f"[bold]{st.name}[/bold]: {len(st.tasks)} task(s), {st.problems} problem(s)"
        + (" (run `kilngit validate`)" if st.problems else "")
    )
    for t in st.tasks:
        table = Table(title=f"task {t.task}", show_header=False, title_justify="left")
        table.add_row("prompts / run configs", f"{t.prompts} / {t.run_configs}")
        table.add_row("runs", f"{t.runs} ({t.input_only} input-only, {t.failed} failed)")
        table.add_row("rated / unrated / disputed", f"{t.rated} / {t.unrated} / {t.disputed}")
        table.add_row(
            "annotations", ", ".join(f"{r}: {n}" for r, n in t.annotations_by_rater.items()) or "none"
        )
        for e in t.evals:
            table.add_row(
                f"eval {e.eval}",
                f"{e.judges} judge(s), eval set {e.eval_set}, golden {e.golden_set}, "
                f"{e.results} result(s) ({e.stale_results} stale), pending {e.missing}",
            )
        console.print(table)
    for b in st.batches:
        console.print(describe(b), markup=False)
    if st.batches:
        console.print("(followed by `kilngit watch`, or resumed by the same `run ... --batch`)")
