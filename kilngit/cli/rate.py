"""`kilngit rate`."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project
from kilngit.errors import UsageError


@click.command()
@click.argument("run")
@click.option("--task", help="Task of the run (default: search every task).")
@click.option("--pass", "verdict", flag_value="pass", help="Overall: pass (pass_fail).")
@click.option("--fail", "verdict", flag_value="fail", help="Overall: fail (pass_fail).")
@click.option(
    "--critical", "verdict", flag_value="critical", help="Overall: critical failure (pass_fail_critical)."
)
@click.option("--stars", type=click.IntRange(1, 5), help="Overall: 1 to 5 stars (five_star).")
@click.option("--label", help="Overall: the class, for tasks rated by label (rating_type: label).")
@click.option(
    "--requirement",
    "requirements",
    multiple=True,
    metavar="NAME=VALUE",
    help="Rate a requirement: pass, fail, critical, 1..5 or a class, by its type. Repeatable.",
)
@click.option("--tag", "tags", multiple=True, help="Add a tag. Repeatable.")
@click.option("--untag", "untags", multiple=True, help="Remove a tag. Repeatable.")
@click.option("--note", help="A note for the run ('' removes yours).")
@click.option("--repair", help="A corrected output ('' removes yours).")
@click.option("--reference", help="A reference answer, free text or JSON ('' removes yours).")
@click.option("--as", "rater", help="Who is rating (default: $KILNGIT_AS, else git user.email).")
@click.option("--clear", is_flag=True, help="Drop everything you said about the run first.")
def rate(
    run: str,
    task: str | None,
    verdict: str | None,
    stars: int | None,
    label: str | None,
    requirements: tuple[str, ...],
    tags: tuple[str, ...],
    untags: tuple[str, ...],
    note: str | None,
    repair: str | None,
    reference: str | None,
    rater: str | None,
    clear: bool,
) -> None:
    """Rate RUN (an ID or an unambiguous prefix), writing only your own annotation file."""
    from kilngit.review.rating import (
        RatingChange,
        describe_annotation,
        parse_overall,
        parse_requirement_arg,
    )
    from kilngit.review.rating import (
        rate as rate_run,
    )

    if sum(bool(x) for x in (verdict, stars, label)) > 1:
        raise UsageError(
            "--pass/--fail/--critical, --stars and --label all set the overall rating", "give one of them"
        )
    overall = parse_overall(verdict or str(stars)) if verdict or stars else None
    change = RatingChange(
        overall=overall,
        label=label,
        requirements=dict(map(parse_requirement_arg, requirements)),
        tags_add=tags,
        tags_remove=untags,
        note=note,
        repair=repair,
        reference=reference,
        clear=clear,
    )
    annotation = rate_run(current_project(), run, change, rater, task)
    click.echo(f"{annotation.rater} on {annotation.task}/{annotation.run}: {describe_annotation(annotation)}")
