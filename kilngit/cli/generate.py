"""`kilngit generate inputs`: synthetic inputs from a topic tree, stored as input-only runs."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json
from kilngit.cli.run_task import CACHE_CHOICE


@click.group()
def generate() -> None:
    """Generate synthetic data with a model."""


@generate.command("inputs")
@click.argument("task")
@click.option("--config", "run_config", required=True, help="Run config whose provider and model generate.")
@click.option("--topic", "topics", multiple=True, help="Root topic. Repeatable (default: the whole task).")
@click.option(
    "--subtopics",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Subtopics to ask for under each topic (0: none).",
)
@click.option(
    "--depth",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Levels of subtopics (with --subtopics).",
)
@click.option(
    "-n", "count", type=click.IntRange(min=1), default=10, show_default=True, help="Inputs per topic."
)
@click.option("--tag", "tags", multiple=True, help="Tag to give the new inputs. Repeatable.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--cache", type=CACHE_CHOICE, help="Record/replay model answers.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@format_option("text", "json")
def inputs(
    task: str,
    run_config: str,
    topics: tuple[str, ...],
    subtopics: int,
    depth: int,
    count: int,
    tags: tuple[str, ...],
    concurrency: int,
    cache: str | None,
    progress: bool | None,
    fmt: str,
) -> None:
    """Generate inputs for TASK (topics, then inputs per topic); duplicates of existing inputs are skipped.

    Exits 1 when no new input was made."""
    from kilngit.runner.generate import generate_inputs

    summary = generate_inputs(
        current_project(),
        task,
        run_config,
        topics=topics,
        subtopics=subtopics,
        depth=depth,
        n=count,
        tags=tags,
        concurrency=concurrency,
        cache=cache,
        progress=progress,
    )
    if fmt == "json":
        print_json(summary.to_dict())
    else:
        click.echo("\n".join(summary.lines()))
    summary.check()  # interrupted, stopped or no new input: an error the CLI maps to its exit code
