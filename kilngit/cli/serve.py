"""`kilngit serve`."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit.cli._common import PathArg, cli_state


@click.command()
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=PathArg(file_okay=False, path_type=Path),
    help="The project to serve (default: the one containing the current folder, or the global -C).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep the default unless others must reach it over the network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the sign-in link in a web browser.")
@click.option(
    "--raters",
    "raters_file",
    type=PathArg(dir_okay=False, path_type=Path),
    help="YAML file outside the repository mapping each secret sign-in token to a rater identity "
    "(default: one token, printed, for the local git identity).",
)
def serve(
    project_dir: Path | None, host: str, port: int, open_browser: bool, raters_file: Path | None
) -> None:
    """A local web app to browse runs, compare run configs, read eval results and label runs.

    Every label is an annotation file in the project, written as `kilngit rate` writes it. Stop with Ctrl-C."""
    from kilngit.serve import serve as run_server

    root = project_dir or cli_state().project_dir or Path.cwd()
    run_server(root, host, port, open_browser, raters_file)
