"""`kilngit queue`: ask a watcher (on the machine with the API keys) to run a job."""

from __future__ import annotations

import click

from kilngit import layout
from kilngit.cli._common import current_project, format_option, print_json

_AFTER = (
    "commit and push it (or leave `kilngit watch --sync` running here); a watcher with API keys runs it "
    "after its next pull"
)


@click.group()
def queue() -> None:
    """Queue jobs for a watcher to run: evals and task runs."""


@queue.command("eval")
@click.argument("eval_slug", metavar="EVAL")
@click.option("--task", help="Task of the eval (default: the project's only task).")
@click.option("--judge", "judges", multiple=True, help="Only these judges (repeatable; default: all).")
@click.option("--samples", type=int, help="Judge each run this many times (LLM judges).")
@click.option("--note", help="A note for whoever reads the queue.")
def queue_eval_cmd(
    eval_slug: str, task: str | None, judges: tuple[str, ...], samples: int | None, note: str | None
) -> None:
    """Request a run of EVAL's judges over its eval set and golden set."""
    from kilngit.sync.queue import queue_eval

    project = current_project()
    request = queue_eval(project, eval_slug, task, judges=judges, samples=samples, note=note)
    click.echo(f"queued eval {eval_slug} as request {request.id} ({_path(request)}): {_AFTER}")


@queue.command("run")
@click.argument("task")
@click.option("--config", "run_config", required=True, help="Run config to run the task with.")
@click.option("--filter", "filter_text", help="Which runs' inputs to answer (default: input_only).")
@click.option("--samples", type=int, help="Answers per input.")
@click.option("--note", help="A note for whoever reads the queue.")
def queue_run_cmd(
    task: str, run_config: str, filter_text: str | None, samples: int | None, note: str | None
) -> None:
    """Request a run of TASK with a run config over the inputs a filter picks."""
    from kilngit.sync.queue import queue_run

    project = current_project()
    request = queue_run(project, task, run_config, filter_text=filter_text, samples=samples, note=note)
    click.echo(f"queued run {run_config} of {task} as request {request.id} ({_path(request)}): {_AFTER}")


@queue.command("list")
@click.option("--task", help="Only this task.")
@format_option("text", "json")
def queue_list_cmd(task: str | None, fmt: str) -> None:
    """Every job request and whether it ran."""
    from kilngit.sync.queue import queued_jobs

    jobs = queued_jobs(current_project(), task)
    if fmt == "json":
        print_json(
            [
                {
                    "request": q.request.to_data(),
                    "state": q.state,
                    "outcome": q.outcome.to_data() if q.outcome else None,
                }
                for q in jobs
            ]
        )
        return
    if not jobs:
        click.echo("no job requests")
    for q in jobs:
        r = q.request
        what = f"eval {r.eval}" if r.job == "eval" else f"run {r.run_config}"
        detail = (q.outcome.summary or q.outcome.error or "") if q.outcome else ""
        click.echo(
            f"{r.id}  {q.state:<7} {r.task}: {what}  by {r.requested_by} at {r.requested_at}"
            + (f"  -- {detail}" if detail else "")
        )


def _path(request) -> str:  # type: ignore[no-untyped-def]
    return layout.record_path(request)
