"""Internal: what every command shares: the project from `-C`, the output format option, printing data."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kilngit.project import Project


@dataclass
class CliState:
    """Global options, kept on the click context."""

    project_dir: Path | None = None

    def project(self) -> Project:
        """The project named by `-C`, else the one containing the current folder. A bulk write killed
        mid-batch is cleaned up here, so every command leaves no temp files of a crash behind."""
        # Imported here: `kilngit --version` and `--help` load this module and need no project (the
        # project module loads the record models, most of a command's start-up).
        from kilngit._temps import sweep_after_crash
        from kilngit.project import Project

        project = Project.find(self.project_dir or Path.cwd())
        sweep_after_crash(project.root)
        return project


def cli_state() -> CliState:
    return click.get_current_context().find_object(CliState) or CliState()


class PathArg(click.Path):
    """A path argument or option read as git reads paths after `-C`: a relative path is relative to the
    `-C` folder, not to where kilngit was started."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        state = ctx.find_object(CliState) if ctx is not None else None
        if state is not None and state.project_dir is not None and not os.path.isabs(value):
            value = os.path.join(state.project_dir, value)
        return super().convert(value, param, ctx)


def current_project() -> Project:
    return cli_state().project()


def format_option(*choices: str, default: str | None = None):  # type: ignore[no-untyped-def]
    """`--format` with the given choices (the first is the default)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default or choices[0],
        show_default=True,
        help="Output format.",
    )


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (sorted keys, for stable diffs and scripts)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
