"""`kilngit import kiln`, `kilngit export kiln` and `kilngit export inspect`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kilngit.cli._common import PathArg, cli_state, current_project, format_option, print_json
from kilngit.errors import EXIT_ERROR, ProjectNotFoundError
from kilngit.project import Project


@click.group("import")
def import_group() -> None:
    """Import records from another tool."""


@click.group("export")
def export_group() -> None:
    """Export the project for another tool."""


@import_group.command("kiln")
@click.argument("src", type=PathArg(exists=True, path_type=Path))
@click.option(
    "--into",
    type=PathArg(file_okay=False, path_type=Path),
    help="Project to import into (created when it is not one yet). Default: the current project, "
    "else the current folder.",
)
@click.option("--strict", is_flag=True, help="Import nothing (and exit 1) when the source has any problem.")
@format_option("text", "json")
def import_kiln_cmd(src: Path, into: Path | None, strict: bool, fmt: str) -> None:
    """Import the Kiln project in SRC: tasks, runs, ratings, prompts, run configs, evals, judges, eval runs,
    dataset splits and fine-tunes. Importing again only adds what is new."""
    from kilngit.kiln import KilnImportError, import_kiln

    target: Path | Project
    if into is not None:
        target = into
    else:
        try:
            target = current_project()
        except ProjectNotFoundError:
            target = cli_state().project_dir or Path.cwd()
    try:
        report = import_kiln(src, target, strict=strict)
    except KilnImportError as e:
        if fmt == "json":
            print_json(e.report.to_dict())
            raise click.exceptions.Exit(EXIT_ERROR) from None  # the report says why
        raise
    if fmt == "json":
        print_json(report.to_dict())
    else:
        _print_import(report)


def _print_import(report) -> None:  # type: ignore[no-untyped-def]
    for problem in report.problems:
        click.echo(str(problem), err=True)
    for path in report.kept:
        click.echo(
            f"kept: {path} differs from Kiln (edited here); delete it and import again to take Kiln's",
            err=True,
        )
    written = ", ".join(f"{n} {k}" for k, n in sorted(report.written.items())) or "nothing new"
    click.echo(
        f"imported {report.files_read} Kiln file(s) into {report.project} in {report.seconds:.1f}s: "
        f"wrote {written}; {sum(report.unchanged.values())} unchanged, {len(report.kept)} kept, "
        f"{len(report.errors)} error(s), {len(report.problems) - len(report.errors)} warning(s)"
    )


@export_group.command("kiln")
@click.argument("dest", type=PathArg(file_okay=False, path_type=Path))
@click.option(
    "--task", "tasks", multiple=True, help="Export only this task (repeatable). Default: every task."
)
@format_option("text", "json")
def export_kiln_cmd(dest: Path, tasks: tuple[str, ...], fmt: str) -> None:
    """Write the project as a Kiln project folder in DEST (a new or empty folder)."""
    from kilngit.kiln.export import export_kiln

    report = export_kiln(current_project(), dest, tasks=list(tasks) or None)
    if fmt == "json":
        print_json(report.to_dict())
        return
    for problem in report.problems:
        click.echo(str(problem), err=True)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.written.items()))
    click.echo(f"exported to {report.dest} in {report.seconds:.1f}s: {counts}")


@export_group.command("inspect")
@click.argument("eval_slug", metavar="EVAL")
@click.option("--task", help="Task of the eval (default: the only task).")
@click.option("--out", type=PathArg(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export_inspect_cmd(eval_slug: str, task: str | None, out: Path | None) -> None:
    """Write the eval set of EVAL as an Inspect AI dataset (JSONL samples: input, target, metadata)."""
    from kilngit.finetune.inspect_tasks import inspect_dataset

    result = inspect_dataset(current_project(), task, eval_slug)
    if out is None:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    else:
        out.write_bytes(result.data)
    left = f" ({result.without_target} eval inputs without a reference or passing answer left out)"
    click.echo(f"{result.samples} samples" + (left if result.without_target else ""), err=True)
