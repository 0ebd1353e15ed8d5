"""`kilngit schema`."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit.cli._common import PathArg


@click.command()
@click.option(
    "--out",
    type=PathArg(file_okay=False, path_type=Path),
    default=Path("schema"),
    show_default=True,
    help="Folder to write <kind>.schema.json files into.",
)
def schema(out: Path) -> None:
    """Write the JSON Schema of every record kind."""
    from kilngit.schema import write_schemas

    paths = write_schemas(out)
    click.echo(f"wrote {len(paths)} schema files to {out}")
