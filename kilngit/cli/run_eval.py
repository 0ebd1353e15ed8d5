"""`kilngit run eval`: judge evals (optionally after running run configs over their inputs), then show the
scoreboard and the judge alignment table."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json
from kilngit.cli.eval import eval_names, show_results
from kilngit.evals.executors import EXECUTORS


@click.command("eval")
@click.argument("evals", nargs=-1)
@click.option("--all", "all_evals", is_flag=True, help="Run every eval of the task.")
@click.option("--task", help="Task slug (default: the project's only task).")
@click.option(
    "--judge", "judges", multiple=True, help="Only this judge (default: all the eval's judges). Repeatable."
)
@click.option(
    "--config",
    "configs",
    multiple=True,
    help="First run this run config over the eval inputs (existing runs are reused). Repeatable.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Judge each run K times and average (LLM judges; code judges and checks run once).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Judgements in flight at once (code judges: at most one per CPU core).",
)
@click.option(
    "--cache",
    type=click.Choice(["record", "replay", "off"]),
    help="Record/replay model answers (default: $KILNGIT_CACHE, then kilngit.yaml recordings.mode).",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Send LLM judges' requests (and --config runs) through the providers' Batch API first "
    "(half price, answers within 24h); a re-run resumes the batches.",
)
@click.option(
    "--executor",
    type=click.Choice(list(EXECUTORS)),
    default="local",
    show_default=True,
    help="Where code judges run: this machine's sandboxed process pool, or the CPUs of a Ray cluster "
    "(each worker runs them in its own sandbox; results are written here).",
)
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    help="Ray cluster for --executor ray (default: $RAY_ADDRESS, else a local Ray started for this command).",
)
@click.option("--retry-errors", is_flag=True, help="Judge again the runs whose current result is an error.")
@click.option(
    "--show/--no-show",
    default=True,
    show_default=True,
    help="Print the scoreboard and judge alignment afterwards.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@format_option("table", "json", "markdown")
def run_eval(
    evals: tuple[str, ...],
    all_evals: bool,
    task: str | None,
    judges: tuple[str, ...],
    configs: tuple[str, ...],
    samples: int,
    concurrency: int,
    cache: str | None,
    batch: bool,
    executor: str,
    ray_address: str | None,
    retry_errors: bool,
    show: bool,
    progress: bool | None,
    fmt: str,
) -> None:
    """Judge the eval set (and golden set) of EVALS with their judges; results are written as they come and a
    re-run only does what is left.

    Exits 130 when interrupted, 1 when a provider failure stopped it or work is left."""
    from kilngit.evals.runner import check_evals, run_evals

    if bool(evals) == all_evals:
        raise click.UsageError("name the evals to run, or pass --all")
    project = current_project()
    slug, names = eval_names(project, task, evals)
    summaries = run_evals(
        project,
        slug,
        names,
        judges=judges,
        configs=configs,
        samples=samples,
        concurrency=concurrency,
        cache=cache,
        batch=batch,
        executor=executor,
        executor_address=ray_address,
        progress=progress,
        retry_errors=retry_errors,
    )
    if fmt != "json":
        click.echo("\n".join(line for s in summaries for line in s.lines()), err=True)
    data = show_results(project, slug, [s.eval for s in summaries], fmt, details=False) if show else {}
    if fmt == "json":
        print_json({"runs": [s.to_dict() for s in summaries], **data})
    check_evals(summaries)  # interrupted, stopped or work left: an error the CLI maps to its exit code
