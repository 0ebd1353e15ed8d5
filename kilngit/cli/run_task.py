"""`kilngit run task`: run a task with a run config over inputs, concurrently and resumably."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit.cli._common import PathArg, current_project, format_option, print_json

CACHE_CHOICE = click.Choice(["record", "replay", "off"])


@click.command("task")
@click.argument("task")
@click.option(
    "--config", "run_config", required=True, help="Run config slug (tasks/TASK/run_configs/SLUG.yaml)."
)
@click.option("--input", "text", help="One input, typed here.")
@click.option(
    "--inputs",
    "inputs_file",
    type=PathArg(exists=True, dir_okay=False, path_type=Path),
    help='JSONL file: one JSON string or {"input": ..., "tags": [...]} per line.',
)
@click.option(
    "--filter", "filter_text", help="Answer the inputs of the runs matching this filter, e.g. input_only."
)
@click.option(
    "--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Answers per input."
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--cache",
    type=CACHE_CHOICE,
    help="Record/replay model answers (default: $KILNGIT_CACHE, "
    "then kilngit.yaml recordings.mode, then off).",
)
@click.option(
    "--batch",
    is_flag=True,
    help="Send the work left through the provider's Batch API (half price, answers within 24h), "
    "recording the answers; a re-run resumes the batches.",
)
@click.option("--tag", "tags", multiple=True, help="Tag to give the new runs. Repeatable.")
@click.option("--as", "author", help="Who typed --input (default: git user.email).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@format_option("text", "json")
def run_task(
    task: str,
    run_config: str,
    text: str | None,
    inputs_file: Path | None,
    filter_text: str | None,
    samples: int,
    concurrency: int,
    cache: str | None,
    batch: bool,
    tags: tuple[str, ...],
    author: str | None,
    progress: bool | None,
    fmt: str,
) -> None:
    """Run TASK with a run config; each run is written as it completes and a re-run resumes.

    With --input the answer is printed after the summary. Unusable answers (refused, truncated, empty,
    malformed, invalid) are written as failed runs; provider failures that outlast the retries are reported
    and retried by the next run. Exits 130 when interrupted; 1 when work is left, when there was no input,
    or when every new run failed."""
    from kilngit.runner.run_task import run_task as run

    summary = run(
        current_project(),
        task,
        run_config,
        text=text,
        inputs_file=inputs_file,
        filter_text=filter_text,
        author=author,
        samples=samples,
        concurrency=concurrency,
        cache=cache,
        batch=batch,
        tags=tags,
        progress=progress,
    )
    if fmt == "json":
        data = summary.to_dict()
        if text is not None:
            data["answers"] = [r.to_data() for r in summary.results.values()]
        print_json(data)
    else:
        click.echo("\n".join(summary.lines()))
        if text is not None:
            click.echo("\n".join(_answers(summary)))
    summary.check()  # interrupted, stopped, work left or nothing made: an error the CLI maps to its exit code


def _answers(summary) -> list[str]:  # type: ignore[no-untyped-def]
    """The answers to a typed --input: the output (or why there is none) of each sample."""
    out = []
    for key, run in sorted(summary.results.items(), key=lambda kv: kv[0].sample):
        out.append(f"--- run {run.id} (sample {key.sample})")
        out.append(
            run.output
            if run.output is not None
            else f"(no output: {run.error.type}: {run.error.message})"
            if run.error
            else "(no output)"
        )
    return out
