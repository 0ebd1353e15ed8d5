"""`kilngit review`."""

from __future__ import annotations

import sys

import click

from kilngit.cli._common import current_project, format_option


@click.command()
@click.argument("revisions", metavar="BASE...HEAD")
@format_option("text", "markdown", "json")
def review(revisions: str, fmt: str) -> None:
    """What changed in ratings, tags, golden sets, runs, judge results, definitions, eval scores and judge
    agreement between two commits.

    BASE...HEAD compares HEAD with its merge base with BASE (what a pull request adds), BASE..HEAD compares
    the two commits, and a single BASE means BASE...HEAD. Markdown output fits in one GitHub comment."""
    from kilngit.review.diff import review as review_range
    from kilngit.review.render import render

    sys.stdout.write(render(review_range(current_project().root, revisions), fmt))
