"""`kilngit merge-annotation` (git's merge driver for annotation files)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("merge-annotation", hidden=True)
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, path_type=Path))
def merge_annotation(base: Path, ours: Path, theirs: Path) -> None:
    """Merge two versions of one rater's annotation (git runs this as the `kilngit-annotation` merge driver).

    Field by field; a field both sides changed takes the side with the later rated_at. Writes the result
    over OURS; exits 1 (a conflict for git) when a side is not a valid annotation."""
    from kilngit.review.annotation_merge import merge_files

    raise click.exceptions.Exit(merge_files(base, ours, theirs))  # git reads 1 as a conflict
