"""`kilngit init`."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit.cli._common import cli_state


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder name).")
@click.option("--github", is_flag=True, help="Also add a GitHub Actions workflow that validates and reviews PRs.")
def init(path: Path | None, name: str | None, github: bool) -> None:
    """Create a kilngit project in PATH (default: the current folder), running `git init` if needed."""
    from kilngit.init import init_project

    root = path or cli_state().project_dir or Path.cwd()
    project = init_project(root, name)
    if github:
        from kilngit.review.github import write_workflow

        click.echo(f"wrote {write_workflow(project.root)}")
    click.echo(f"initialized kilngit project {project.manifest.name!r} in {project.root}")
