"""`kilngit audit`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.command()
@click.argument("eval_slug", metavar="EVAL")
@click.option("--task", help="Task of the eval (default: the project's only task).")
@click.option("--score", help="Score to audit (default: the eval's first).")
@click.option(
    "--queue",
    "make_queue",
    is_flag=True,
    help="Also save the suspects as a re-review queue for `kilngit label --audit`.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many suspects.")
@format_option("table", "json", "markdown")
def audit(
    eval_slug: str, task: str | None, score: str | None, make_queue: bool, limit: int | None, fmt: str
) -> None:
    """Rank EVAL's golden labels by how likely the human consensus is wrong, with the reasons.

    Evidence that does not trust the labels: the judges' results weighted by reliability estimated without
    taking the labels as truth (Dawid-Skene over people and judges), execution judges' explanations,
    raters who disagree, and how labels were made (bursts of identical labels, labels faster than reading,
    labels that follow the generation session). Offline: reads the results on disk; judges nothing."""
    from kilngit.evals.audit import audit_eval
    from kilngit.evals.audit_queue import write_queue
    from kilngit.evals.audit_render import render_markdown, render_table

    project = current_project()
    report = audit_eval(project, task, eval_slug, score)
    if fmt == "json":
        print_json(report.to_dict())
    elif fmt == "markdown":
        click.echo(render_markdown(report, limit), nl=False)
    else:
        click.echo(render_table(report, limit), nl=False)
    if make_queue:
        queue = write_queue(project, report)
        click.echo(
            f"queued {len(queue.runs)} suspect(s) for re-review: kilngit label --audit"
            + (f" --task {report.task}" if task else ""),
            err=fmt == "json",
        )
