"""`kilngit split new|materialize|show`: dataset splits for fine-tuning and testing."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.group()
def split() -> None:
    """Define dataset splits and freeze their membership."""


@split.command("new")
@click.argument("name")
@click.option("--task", help="Task of the split (default: the only task).")
@click.option(
    "--filter", "filter_", default="all", show_default=True, help="Run filter choosing the candidates."
)
@click.option(
    "--part",
    "parts",
    multiple=True,
    metavar="NAME=FRACTION",
    help="A part and its share, e.g. train=0.8. Repeatable or comma separated. Default: train=0.8,test=0.2.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the deterministic ordering.")
@click.option("--allow-eval-items", is_flag=True, help="Keep runs that are in an eval set or golden set.")
@click.option("--description", help="What the split is for.")
def new(
    name: str,
    task: str | None,
    filter_: str,
    parts: tuple[str, ...],
    seed: int,
    allow_eval_items: bool,
    description: str | None,
) -> None:
    """Write tasks/TASK/splits/NAME.yaml."""
    from kilngit.finetune.splits import new_split, parse_parts

    project = current_project()
    task = project.task_slug(task)
    new_split(
        project,
        task,
        name,
        parse_parts(parts or ("train=0.8,test=0.2",)),
        filter=filter_,
        seed=seed,
        allow_eval_items=allow_eval_items,
        description=description,
    )
    click.echo(f"created split {name!r}; freeze it with: kilngit split materialize {name}")


@split.command("materialize")
@click.argument("name")
@click.option("--task", help="Task of the split (default: the only task).")
@click.option("--extend", "extend_new", is_flag=True, help="Add runs that arrived since, without moving any.")
@click.option("--force", is_flag=True, help="Re-split from scratch (items may move between parts).")
@format_option("text", "json")
def materialize(name: str, task: str | None, extend_new: bool, force: bool, fmt: str) -> None:
    """Freeze the membership of split NAME (a no-op when already frozen). Exits 1, writing nothing, when the
    split would be empty."""
    from kilngit.finetune.splits import materialize_split

    report = materialize_split(current_project(), task, name, extend_new=extend_new, force=force)
    _print(report, fmt)


@split.command("show")
@click.argument("name")
@click.option("--task", help="Task of the split (default: the only task).")
@click.option("--ids", is_flag=True, help="List the run IDs of each part.")
@format_option("text", "json")
def show(name: str, task: str | None, ids: bool, fmt: str) -> None:
    """Show the frozen parts of split NAME."""
    from kilngit.finetune.splits import show_split

    report = show_split(current_project(), task, name)
    _print(report, fmt, ids)


def _print(report, fmt: str, ids: bool = False) -> None:  # type: ignore[no-untyped-def]
    data = report.to_dict()
    if ids or fmt == "json":
        data["ids"] = report.membership.parts
    if fmt == "json":
        print_json(data)
        return
    verb = "froze" if report.created else "frozen"
    parts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    click.echo(f"split {report.membership.split} ({verb}): {parts}")
    if report.added:
        click.echo(f"  placed {report.added} runs")
    if report.waiting:
        click.echo(f"  {report.waiting} newer runs are in no part (add them: --extend)")
    if report.excluded:
        click.echo(f"  {report.excluded} runs left out: in an eval or golden set (allow: allow_eval_items)")
    if report.stale:
        click.echo("  the definition changed since it was frozen (re-split: materialize --force)")
    if ids:
        for part, members in report.membership.parts.items():
            click.echo(f"  {part}: {' '.join(members)}")
