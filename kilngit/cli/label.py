"""`kilngit label`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project


@click.command()
@click.option("--task", help="Task to label (default: the project's only task).")
@click.option("--filter", "filter_text", metavar="FILTER", help="Only runs matching this run filter.")
@click.option("--as", "rater", help="Who is rating (default: $KILNGIT_AS, else git user.email).")
@click.option("--disputed", is_flag=True, help="Go through runs raters disagree on instead of unrated ones.")
@click.option(
    "--audit",
    "audit",
    is_flag=True,
    help="Re-review the suspect golden labels of the last `kilngit "
    "audit EVAL --queue`, shown with the audit's evidence; your labels are new annotations.",
)
def label(task: str | None, filter_text: str | None, rater: str | None, disputed: bool, audit: bool) -> None:
    """Label runs one keystroke at a time: p/f/c, 1-5, r, n, t, s, u, q, ? for help.

    Every rating is saved when given. Keys are read one at a time in a terminal, and one per line from a
    pipe (`printf 'p\\nf\\nq\\n' | kilngit label`)."""
    from rich.console import Console

    from kilngit.identity import current_person
    from kilngit.review.label import LabelQueue, RaterStore, queue_runs
    from kilngit.review.label_ui import LabelSession
    from kilngit.review.terminal import Keys

    project = current_project()
    slug = project.task_slug(task)
    person = current_person(project.root, rater)
    notes = None
    if audit:
        from kilngit.evals.audit_queue import read_queue, runs_to_review

        audit_queue = read_queue(project, slug)
        run_ids, notes, what = runs_to_review(project, audit_queue, person), audit_queue.evidence, "suspect"
    else:
        run_ids = queue_runs(project, slug, person, filter_text, disputed)
        what = "disputed" if disputed else "unrated"
    if not run_ids:
        click.echo(f"no {what} runs to label for {person} in task {slug!r}")
        return
    click.echo(f"{len(run_ids)} {what} run(s) to label as {person}")
    queue = LabelQueue(run_ids, RaterStore(project, slug, person))
    summary = LabelSession(queue, project.task(slug).requirements, Console(), Keys(), notes).run()
    click.echo(
        f"{summary.rated} run(s) labeled, {summary.skipped} skipped, {summary.remaining} left; "
        f"saved under tasks/{slug}/annotations/"
    )
