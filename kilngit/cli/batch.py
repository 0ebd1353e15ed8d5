"""`kilngit batch list|cancel`: the Batch API jobs of `run task --batch` and `run eval --batch`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.group()
def batch() -> None:
    """Batch API jobs on this machine (made by `run task --batch` and `run eval --batch`)."""


@batch.command("list")
@format_option("text", "json")
def list_batches(fmt: str) -> None:
    """The open batch jobs: batch ID, provider, status and answers so far."""
    from kilngit.providers.batch_jobs import batches_in_progress, describe

    jobs = batches_in_progress(current_project())
    if fmt == "json":
        print_json(jobs)
    else:
        click.echo("\n".join(describe(j) for j in jobs) or "no open batch")


@batch.command("cancel")
@click.argument("batch_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Cancel every open batch job.")
def cancel(batch_ids: tuple[str, ...], everything: bool) -> None:
    """Cancel open batches at their provider (BATCH_IDS: batch or job IDs, see `batch list`).

    The answers a batch made before it stopped are recorded by the next `run ... --batch` (or the
    watcher); its other requests are asked again only when that command runs again."""
    from kilngit.providers.batch_jobs import cancel_batches, describe

    for job in cancel_batches(current_project(), batch_ids, everything=everything):
        click.echo(describe(job))
