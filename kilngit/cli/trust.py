"""`kilngit trust`: review what is new since this machine last trusted the project, and trust it."""

from __future__ import annotations

import json
import sys

import click

from kilngit.cli._common import current_project, format_option
from kilngit.errors import KilngitError
from kilngit.trust import diff, review, trust
from kilngit.trust.store import store_file


@click.command("trust")
@click.option("--yes", "-y", is_flag=True, help="Trust without asking (CI: trust the checked-out commit).")
@click.option(
    "--diff/--no-diff",
    "show_diff",
    default=True,
    show_default=True,
    help="Show the changes since the last trusted commit.",
)
@format_option("text", "json")
def trust_command(yes: bool, show_diff: bool, fmt: str) -> None:
    """List the code and jobs that are new or changed since this machine last trusted the project (code
    files, code judges, auto-run evals, queue requests), show the diff, and trust them.

    Until then `run eval` refuses code judges and `watch` runs no evals or queued requests. Trust is recorded
    outside the repository ($XDG_DATA_HOME/kilngit/trust), keyed by content hash; your own edits on this
    machine are trusted as you make them. Exits 1 when asked and declined."""
    project = current_project()
    found = review(project.root)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "untrusted": [{"path": i.path, "kind": i.kind, "new": i.new} for i in found.untrusted],
                    "trusted_commit": found.trusted_commit,
                },
                indent=2,
            )
        )
    elif not found.untrusted:
        click.echo("nothing new to trust")
    else:
        click.echo(
            f"{len(found.untrusted)} item(s) new or changed since this machine last trusted {project.root}:"
        )
        click.echo("\n".join(found.lines()))
        changes = diff(found) if show_diff else ""
        if changes:
            click.echo(changes.rstrip())
        elif show_diff and not found.trusted_commit:
            click.echo("(never trusted here before: read the files listed above)")
    if found.untrusted and not yes and not _confirm(len(found.untrusted)):
        raise KilngitError("nothing trusted", hint="review the list above, then: kilngit trust --yes")
    trust(found)  # also when nothing is new: the commit trusted last is what later diffs start from
    if fmt != "json" and found.untrusted:
        click.echo(f"trusted: {len(found.untrusted)} item(s) (recorded in {store_file(project.root)})")


def _confirm(count: int) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return click.confirm(f"Trust these {count} item(s) on this machine?", default=False, err=True)
    except click.Abort:
        return False
