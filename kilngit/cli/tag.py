"""`kilngit tag` and `kilngit sample`: tag many runs at once, or a deterministic sample of them."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.command()
@click.option(
    "--filter", "filter_", required=True, help="Run filter choosing the runs, e.g. 'config::gpt4 & rated'."
)
@click.option("--add", "add", multiple=True, help="Tag to add. Repeatable.")
@click.option("--remove", "remove", multiple=True, help="Tag to remove. Repeatable.")
@click.option("--task", help="Task of the runs (default: the only task).")
@click.option(
    "--as", "rater", help="Whose annotations record the change (default: $KILNGIT_AS, else git user.email)."
)
@format_option("text", "json")
def tag(
    filter_: str, add: tuple[str, ...], remove: tuple[str, ...], task: str | None, rater: str | None, fmt: str
) -> None:
    """Add and remove tags on every run matching --filter, written as your own annotations.

    Exits 1 when the filter matches no run."""
    from kilngit.review.tagging import tag_runs

    _print(tag_runs(current_project(), task, filter_, add, remove, rater), fmt)


@click.command()
@click.option("--filter", "filter_", default="has_output", show_default=True, help="Runs to sample from.")
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="How many runs to pick.")
@click.option("--seed", default=0, show_default=True, help="Seed of the deterministic draw.")
@click.option("--tag", "tag_name", default="golden", show_default=True, help="Tag given to the picked runs.")
@click.option("--task", help="Task of the runs (default: the only task).")
@click.option(
    "--as", "rater", help="Whose annotations record the tags (default: $KILNGIT_AS, else git user.email)."
)
@format_option("text", "json")
def sample(
    filter_: str, n: int, seed: int, tag_name: str, task: str | None, rater: str | None, fmt: str
) -> None:
    """Tag N runs drawn from those matching --filter, the same ones for the same seed and runs.

    Exits 1 when the filter matches no run."""
    from kilngit.review.tagging import sample_runs

    report = sample_runs(current_project(), task, filter_, n, seed, tag_name, rater)
    _print(report, fmt)
    if len(report.chosen) < n:
        click.echo(f"only {report.matched} run(s) match: all are picked", err=True)


def _print(report, fmt: str) -> None:  # type: ignore[no-untyped-def]
    if fmt == "json":
        print_json(report.to_dict())
        return
    picked = (
        f"picked {len(report.chosen)} of {report.matched}, "
        if report.chosen
        else f"{report.matched} matched, "
    )
    click.echo(
        f"{report.task}: {picked}{len(report.changed)} changed, {report.unchanged} already so "
        f"(as {report.rater})"
    )
