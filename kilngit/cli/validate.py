"""`kilngit validate`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from kilngit.cache import early, index
from kilngit.cli._common import PathArg, cli_state, format_option, print_json
from kilngit.errors import EXIT_ERROR, UsageError
from kilngit.validation_report import ValidationReport


def _folder(path: Path | None) -> Path:
    """The folder to find the project from: PATH (already relative to -C, like git), which must exist."""
    if path is None:
        return cli_state().project_dir or Path.cwd()
    folder = Path(os.path.abspath(path))  # `..` resolved by name, not by walking up from PATH
    if not folder.is_dir():
        raise UsageError(
            f"{path} is not a folder" + ("" if folder.exists() else " (it does not exist)"),
            "give the project folder, or a folder inside it",
        )
    return folder


@click.command()
@click.argument("path", required=False, type=PathArg(path_type=Path))
@click.option(
    "--changed", is_flag=True, help="Check only files changed against git HEAD (for pre-commit hooks)."
)
@click.option(
    "--staged", is_flag=True, help="Check only files staged for the next commit (fastest; implies --changed)."
)
@click.option(
    "--fix",
    is_flag=True,
    help="Rewrite records that are valid but not in canonical form, and resolve "
    "annotation files git left conflicted (one rater on two machines: later rated_at wins).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read and check every file afresh instead of trusting the local cache (.kilngit/cache/) for "
    "files unchanged since it was written.",
)
@format_option("text", "json")
def validate(path: Path | None, changed: bool, staged: bool, fix: bool, no_cache: bool, fmt: str) -> None:
    """Check that every file parses, matches its schema, sits at its path and that references resolve.

    Exits 1 when any error is found."""
    start = time.perf_counter()
    with index.one_sync():  # git is asked once, and again after --fix rewrote a file
        folder = _folder(path)
        report = None
        if not (changed or staged or no_cache or fix or os.environ.get("KILNGIT_NO_CACHE")):
            early.prefetch_project(folder)  # first: git runs while the rest is imported
            from kilngit.cache import warm

            report = warm.report_if_unchanged(folder, start)
        if report is None:
            report = _check(folder, changed, staged, fix, no_cache, fmt)
    _print(report, fmt)


def _check(
    folder: Path, changed: bool, staged: bool, fix: bool, no_cache: bool, fmt: str
) -> ValidationReport:
    from kilngit.project import Project
    from kilngit.validate import fix_canonical, fix_conflicts, validate_changed, validate_project

    project = Project.find(folder)

    def check():  # type: ignore[no-untyped-def]
        return (
            validate_changed(project.root, staged_only=staged, cache=not no_cache)
            if changed or staged
            else validate_project(project.root, cache=not no_cache)
        )

    report = check()
    if fix:
        resolved = fix_conflicts(project.root, report)
        if resolved:
            report = check()
        fixed = fix_canonical(project.root, report)
        if fmt == "text" and resolved:
            click.echo(
                f"resolved {len(resolved)} conflicted annotation(s) (later rated_at wins); "
                "`git add` them to finish the merge:\n  " + "\n  ".join(resolved)
            )
        if fmt == "text" and fixed:
            click.echo(f"rewrote {fixed} file(s) canonically")
    return report


def _print(report: ValidationReport, fmt: str) -> None:
    if fmt == "json":
        print_json(report.to_dict())
    else:
        for problem in report.problems:
            click.echo(str(problem))
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds.items())) or "no records"
        verdict = "ok" if report.ok else f"{len(report.errors)} error(s)"
        warnings = len(report.problems) - len(report.errors)
        click.echo(
            f"{verdict}: {report.files} file(s) checked ({kinds}), {warnings} warning(s), "
            f"{report.seconds:.2f}s",
            err=not report.ok,
        )
    if not report.ok:
        raise click.exceptions.Exit(EXIT_ERROR)  # the problems are printed; cli/main.py returns the code
