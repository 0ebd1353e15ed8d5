"""`kilngit migrate`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.command()
@format_option("text", "json")
def migrate(fmt: str) -> None:
    """Move the project's record files to the folder layout this kilngit writes, and record it in
    kilngit.yaml (until then a project of an older layout is read-only).

    Files are renamed and the git index follows (as `git mv` does), so committing shows renames and history
    is kept. Safe to interrupt: running it again finishes the job; on a migrated project it does nothing."""
    from kilngit.migrate import migrate as run_migrate

    report = run_migrate(current_project())
    if fmt == "json":
        print_json(report.to_dict())
        return
    if not report.changed:
        click.echo(f"already at layout {report.after}: nothing to move")
        return
    click.echo(
        f"layout {report.before} -> {report.after}: moved {report.moved} file(s)"
        + (f", removed {report.twins} old duplicate(s)" if report.twins else "")
        + f", {report.index_moved} staged as renames ({report.seconds:.1f}s)"
    )
    click.echo("commit it: git commit -m 'kilngit migrate: folder layout 2'")
