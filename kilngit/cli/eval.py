"""`kilngit eval scores|align|check`: read an eval's results (no model is called)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kilngit.cache import early, index
from kilngit.cli._common import cli_state, current_project, format_option, print_json
from kilngit.errors import KilngitError

if TYPE_CHECKING:
    from kilngit.project import Project
    from kilngit.records import Eval, Judge

EVALS_HELP = "Evals to show (default: every eval of the task)."


def eval_names(project: Project, task: str | None, evals: tuple[str, ...]) -> tuple[str, list[str]]:
    """The task and the evals a command is about (all of the task's when none is named)."""
    from kilngit.evals.results import find_eval, judged_evals

    slug = project.task_slug(task)
    names = list(evals)
    if not names:
        found = judged_evals(project, slug)
        names = found.names
        if found.skipped:
            click.echo(f"skipped evals without judges: {', '.join(found.skipped)}", err=True)
        if not names and found.skipped:
            raise KilngitError(
                f"no eval of task {slug!r} has a judge",
                f"add one: tasks/{slug}/evals/<eval>/judges/<judge>.yaml",
            )
    if not names:
        raise KilngitError(f"task {slug!r} has no evals", f"create tasks/{slug}/evals/<eval>/eval.yaml")
    for name in names:
        find_eval(project, slug, name)
    return slug, names


def show_results(
    project: Project,
    task: str,
    names: list[str],
    fmt: str,
    *,
    scores: bool = True,
    align: bool = True,
    judge: str | None = None,
    details: bool = True,
) -> dict[str, list]:
    """Print (or return, for JSON) the scoreboard and/or the alignment tables of evals."""
    from kilngit.evals.render import alignment_tables, print_tables, scoreboard_table
    from kilngit.evals.results import eval_results
    from kilngit.evals.scores import eval_scores

    data: dict[str, list] = {"scores": [], "alignment": []}
    with index.one_sync():  # every scoreboard's view from one answer of git
        for name in names:
            # Scores alone are computed from the local cache's per-run rows (no need to read every result).
            results = eval_results(project, task, name) if align else None
            tables = []
            if scores:
                ev, judges = project.evals(task)[name], project.judges(task, name)
                for board_judge in _board_judges(ev, judges, judge):
                    board = eval_scores(project, task, name, board_judge, results=results, views=True)
                    data["scores"].append(board.to_dict())
                    tables.append(scoreboard_table(board))
            if align:
                from kilngit.evals.align import eval_alignment  # not imported for scores alone

                table = eval_alignment(project, task, name, results=results)
                data["alignment"].append(table.to_dict())
                tables += alignment_tables(table, details)
            if fmt != "json":
                print_tables(tables, fmt)
    return data


def _board_judges(ev: Eval, judges: dict[str, Judge], judge: str | None) -> list[str | None]:
    """The judges to show scoreboards for: the one asked, else the default, else every judge."""
    if judge or ev.default_judge or len(judges) <= 1:
        return [judge]
    return list(judges)


@click.group("eval")
def eval_group() -> None:
    """Scores, judge alignment with humans, and CI checks of evals."""


@eval_group.command("scores")
@click.argument("evals", nargs=-1)
@click.option("--task", help="Task slug (default: the project's only task).")
@click.option("--judge", help="Judge whose scores count (default: the eval's default judge).")
@format_option("table", "json", "markdown")
def scores(evals: tuple[str, ...], task: str | None, judge: str | None, fmt: str) -> None:
    """Per run config: n, mean per score with a 95% CI, the winner, missing items, cost and latency.

    With no EVALS, every eval that has a judge (the others are named on stderr and skipped)."""
    with early.git_first(cli_state().project_dir or Path.cwd()):  # git runs while the code below is imported
        if fmt == "table":  # printed at the end: imported while git runs
            import rich.console  # noqa: F401
            import rich.table  # noqa: F401
        project = current_project()
        slug, names = eval_names(project, task, evals)
        data = show_results(project, slug, names, fmt, align=False, judge=judge)
    if fmt == "json":
        print_json(data["scores"])


@eval_group.command("align")
@click.argument("evals", nargs=-1)
@click.option("--task", help="Task slug (default: the project's only task).")
@format_option("table", "json", "markdown")
def align(evals: tuple[str, ...], task: str | None, fmt: str) -> None:
    """Each judge against the human consensus on the golden set, and the raters' own agreement.

    With no EVALS, every eval that has a judge (the others are named on stderr and skipped)."""
    project = current_project()
    slug, names = eval_names(project, task, evals)
    data = show_results(project, slug, names, fmt, scores=False)
    if fmt == "json":
        print_json(data["alignment"])


@eval_group.command("check")
@click.argument("evals", nargs=-1)
@click.option("--task", help="Task slug (default: the project's only task).")
@click.option("--config", "configs", multiple=True, help="Check only these run configs. Repeatable.")
@format_option("table", "json", "markdown")
def check(evals: tuple[str, ...], task: str | None, configs: tuple[str, ...], fmt: str) -> None:
    """Exit 1 when a score is below its eval's threshold or the judge fails the eval's alignment gate (for CI).

    With no EVALS, every eval that has a judge (the others are named on stderr and skipped)."""
    from kilngit.evals.check import eval_check
    from kilngit.evals.render import check_table, print_tables

    project = current_project()
    slug, names = eval_names(project, task, evals)
    report = eval_check(project, slug, names, configs)
    if fmt == "json":
        print_json({"ok": report.ok, "evals": [{**e.to_dict(), "ok": e.ok} for e in report.evals]})
    else:
        print_tables([check_table(report)], fmt)
    if not report.ok:
        failing = [e.eval for e in report.evals if not e.ok]
        raise KilngitError(f"eval check failed: {', '.join(failing)}", "see the table above")


@eval_group.command("freeze")
@click.argument("eval_slug", metavar="EVAL")
@click.option("--task", help="Task slug (default: the project's only task).")
@click.option(
    "--set",
    "sets",
    type=click.Choice(["eval_set", "golden_set"]),
    multiple=True,
    help="Which set to freeze (default: both). Repeatable.",
)
@click.option(
    "--extend", is_flag=True, help="Add the runs that match the set's filter but are not in it yet."
)
@format_option("text", "json")
def freeze(eval_slug: str, task: str | None, sets: tuple[str, ...], extend: bool, fmt: str) -> None:
    """Freeze EVAL's eval set and/or golden set, so later runs never join it silently.

    The first call writes a one-part split (tasks/TASK/splits/EVAL-eval.yaml) and points eval.yaml at it
    (eval_set: split::EVAL-eval/all); later calls report the drift (runs matching the original filter that
    are not in the set) and --extend adds them. Exits 1 when a set matches no run."""
    from kilngit.evals.freeze import freeze_set

    project = current_project()
    reports = [
        freeze_set(project, task, eval_slug, which, extend=extend)  # type: ignore[arg-type]
        for which in (sets or ("eval_set", "golden_set"))
    ]
    if fmt == "json":
        print_json([r.to_dict() for r in reports])
        return
    for r in reports:
        verb = "froze" if r.created else "frozen"
        click.echo(
            f"{r.eval} {r.set}: {verb}, {r.members} run(s) in split {r.split} (from {r.filter!r})"
            + (f", added {r.added}" if r.added and extend else "")
        )
        if r.drift:
            click.echo(
                f"  drift: {r.drift} run(s) match {r.filter!r} but are not in the set "
                f"(add them: kilngit eval freeze {r.eval} --set {r.set} --extend)"
            )


@eval_group.command("new")
@click.argument("slug")
@click.option("--task", help="Task slug (default: the project's only task).")
@click.option(
    "--score",
    "scores",
    multiple=True,
    metavar="NAME[:TYPE]=INSTRUCTION",
    help="A score (default: one per task requirement, else one overall score). Repeatable.",
)
@click.option("--eval-set", help="Run filter of the items to judge (default: tag::eval_set).")
@click.option("--golden-set", help="Run filter of the human-rated items (default: tag::golden).")
@click.option("--name", help="Human name (default: the slug).")
def new(
    slug: str,
    task: str | None,
    scores: tuple[str, ...],
    eval_set: str | None,
    golden_set: str | None,
    name: str | None,
) -> None:
    """Write tasks/TASK/evals/SLUG/eval.yaml (commented); add judges with `kilngit judge new SLUG ...`."""
    from kilngit.scaffold import new_eval, parse_score

    path = new_eval(
        current_project(),
        task,
        slug,
        [parse_score(s) for s in scores],
        eval_set=eval_set,
        golden_set=golden_set,
        name=name,
    )
    click.echo(f"wrote {path}")
