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
@click.option(
    "--requirement",
    "requirements",
    multiple=True,
    metavar="NAME[:TYPE]=INSTRUCTION",
    help="A requirement, e.g. 'safe:pass_fail_critical=Never deletes files' or "
    "'tone:label(formal|casual)=How it sounds'. Repeatable.",
)
@click.option(
    "--rating-type",
    type=click.Choice(["pass_fail", "pass_fail_critical", "five_star", "label"]),
    help="The one type of overall ratings (default: any).",
)
@click.option("--labels", help="For --rating-type label: the classes, comma separated.")
def new(
    slug: str,
    instruction: str,
    name: str | None,
    requirements: tuple[str, ...],
    rating_type: str | None,
    labels: str | None,
) -> None:
    """Create tasks/SLUG/task.yaml and a default prompt."""
    from kilngit.authoring import new_task, parse_requirement

    project = current_project()
    classes = [c.strip() for c in (labels or "").split(",") if c.strip()]
    new_task(
        project, slug, instruction, name, [parse_requirement(r) for r in requirements], rating_type, classes
    )
    click.echo(f"created task {slug!r} in tasks/{slug}/")


@task.command("set-schema")
@click.argument("slug")
@click.option("--output", "output", metavar="SCHEMA", help="Output JSON Schema: JSON text or a .json file.")
@click.option("--input", "input_", metavar="SCHEMA", help="Input JSON Schema: JSON text or a .json file.")
@click.option("--clear-output", is_flag=True, help="Make outputs plain text again.")
@click.option("--clear-input", is_flag=True, help="Make inputs plain text again.")
def set_schema(
    slug: str, output: str | None, input_: str | None, clear_output: bool, clear_input: bool
) -> None:
    """Set the output (and input) JSON Schema of task SLUG, keeping the comments of task.yaml."""
    from kilngit.scaffold import set_schema as set_task_schema

    path = set_task_schema(
        current_project(),
        slug,
        output=output,
        input=input_,
        clear_output=clear_output,
        clear_input=clear_input,
    )
    click.echo(f"wrote {path}")
