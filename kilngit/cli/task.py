"""`kilngit task new`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project


@click.group()
def task() -> None:
    """Create and inspect tasks."""


@task.command("new")
@click.argument("slug")
@click.option("--instruction", required=True, help="What the model must do.")
@click.option("--name", help="Human name (default: the slug).")
@click.option("--requirement", "requirements", multiple=True, metavar="NAME[:TYPE]=INSTRUCTION",
              help="A requirement, e.g. 'safe:pass_fail_critical=Never deletes files'. Repeatable.")
def new(slug: str, instruction: str, name: str | None, requirements: tuple[str, ...]) -> None:
    """Create tasks/SLUG/task.yaml and a default prompt."""
    from kilngit.authoring import new_task, parse_requirement

    project = current_project()
    new_task(project, slug, instruction, name, [parse_requirement(r) for r in requirements])
    click.echo(f"created task {slug!r} in tasks/{slug}/")
