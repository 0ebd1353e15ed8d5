"""`kilngit add run`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project


@click.group()
def add() -> None:
    """Add hand-made records."""


@add.command("run")
@click.argument("task")
@click.option("--input", "input_text", required=True, help="The input text.")
@click.option("--output", help="The output text (omit for an input waiting to be run).")
@click.option("--tag", "tags", multiple=True, help="Tag to give the run. Repeatable.")
@click.option("--as", "author", help="Who typed it (default: git user.email).")
def run(task: str, input_text: str, output: str | None, tags: tuple[str, ...], author: str | None) -> None:
    """Add a run typed by a person; prints its ID."""
    from kilngit.authoring import add_run

    created = add_run(current_project(), task, input_text, output, list(tags), author)
    click.echo(created.id)
