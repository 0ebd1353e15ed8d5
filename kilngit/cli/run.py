"""`kilngit run`: the group shared by `run task` (run a task with a model) and `run eval` (judge an eval)."""

from __future__ import annotations

import click

from kilngit.cli._lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "task": "kilngit.cli.run_task:run_task",
        "eval": "kilngit.cli.run_eval:run_eval",
    },
)
def run() -> None:
    """Run a task with a model, or run an eval's judges."""
