"""`kilngit init`."""

from __future__ import annotations

from pathlib import Path

import click

from kilngit import layout
from kilngit.cli._common import PathArg, cli_state
from kilngit.project import Project


@click.command()
@click.argument("path", required=False, type=PathArg(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder name).")
@click.option(
    "--github",
    is_flag=True,
    help="Also add a GitHub Actions workflow that validates, checks evals and reviews PRs.",
)
@click.option(
    "--kilngit-source",
    metavar="REQUIREMENT",
    help="What the workflow pip-installs (default: this kilngit's git URL pinned to its commit).",
)
@click.option("--force", is_flag=True, help="With --github: replace an existing workflow.")
def init(path: Path | None, name: str | None, github: bool, kilngit_source: str | None, force: bool) -> None:
    """Create a kilngit project in PATH (default: the current folder), running `git init` if needed.

    With --github on an existing project, only the workflow is added."""
    from kilngit.init import init_project

    root = path or cli_state().project_dir or Path.cwd()
    if github and (root / layout.MANIFEST).is_file():
        project = Project(root)  # an existing project: only add the workflow
    else:
        project = init_project(root, name)
        click.echo(f"initialized kilngit project {project.manifest.name!r} in {project.root}")
    if github:
        from kilngit.review.github import write_workflow

        click.echo(f"wrote {write_workflow(project.root, force=force, source=kilngit_source)}")
