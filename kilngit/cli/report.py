"""`kilngit report`: write the static HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit.cli._common import PathArg, current_project


@click.command()
@click.option(
    "--out",
    type=PathArg(file_okay=False, path_type=Path),
    help="Folder for index.html (default: .kilngit/report in the project).",
)
def report(out: Path | None) -> None:
    """Write a static HTML report (scoreboards, judge alignment, confusion matrices, disagreements): no server,
    nothing fetched from the network, fine as a GitHub Pages artifact."""
    from kilngit.report import write_report

    path = write_report(current_project(), out)
    click.echo(str(path))
