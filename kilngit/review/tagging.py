"""Tagging many runs at once, and sampling runs into a set (e.g. a golden set), as one rater.

    report = tag_runs(project, "ffmpeg", "has_output & !rated", add=["to_review"], rater="ana@example.com")
    report = sample_runs(project, "ffmpeg", "has_output & !tag::golden", n=20, seed=1, tag="golden")

Every change is written as the rater's own annotation of each run (one file per person and run), so two people
tagging or sampling at the same time in their own clones never edit the same file, and git merges them.
Sampling is deterministic: the runs matching the filter in the order of SHA-256 of "<seed>:<run id>", the
first `n`; the same seed over the same runs picks the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kilngit.errors import NotFoundError, UsageError
from kilngit.finetune.splits import hash_order
from kilngit.identity import current_person
from kilngit.project import Project
from kilngit.review.rating import RatingChange, apply_change, check_tag, load_own_annotation, save_annotation

__all__ = ["TagReport", "sample_runs", "tag_runs"]


@dataclass
class TagReport:
    """What a bulk tag or a sample did."""

    task: str
    rater: str
    matched: int
    """Runs the filter chose (for a sample: the candidates)."""
    changed: list[str] = field(default_factory=list)
    """IDs of the runs whose tags changed."""
    unchanged: int = 0
    """Runs that already had the tags asked for."""
    chosen: list[str] = field(default_factory=list)
    """For a sample: the IDs picked, in sampling order."""

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "rater": self.rater,
            "matched": self.matched,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "chosen": self.chosen,
        }


def tag_runs(
    project: Project,
    task: str | None,
    filter_text: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    rater: str | None = None,
) -> TagReport:
    """Add and remove tags on every run matching `filter_text`, as `rater` (default: $KILNGIT_AS, else git's
    user.email). A filter matching nothing is an error; runs already tagged so are left alone."""
    task = project.task_slug(task)
    if not add and not remove:
        raise UsageError("nothing to change", "give --add TAG and/or --remove TAG")
    states = project.select(task, filter_text)
    if not states:
        raise NotFoundError(
            f"no run of task {task!r} matches {filter_text!r}",
            f"check the filter: kilngit runs --filter '{filter_text}'",
        )
    return _apply(
        project, task, [s.id for s in states], add, remove, current_person(project.root, rater), len(states)
    )


def sample_runs(
    project: Project,
    task: str | None,
    filter_text: str,
    n: int,
    seed: int = 0,
    tag: str = "golden",
    rater: str | None = None,
) -> TagReport:
    """Tag `n` runs drawn deterministically (by `seed`) from those matching `filter_text`."""
    task = project.task_slug(task)
    if n < 1:
        raise UsageError("-n must be at least 1")
    check_tag(tag)
    ids = [s.id for s in project.select(task, filter_text)]
    if not ids:
        raise NotFoundError(f"no run of task {task!r} matches {filter_text!r}", "nothing to sample from")
    chosen = hash_order(ids, seed)[:n]
    report = _apply(project, task, sorted(chosen), (tag,), (), current_person(project.root, rater), len(ids))
    report.chosen = chosen
    return report


def _apply(
    project: Project,
    task: str,
    run_ids: list[str],
    add: Sequence[str],
    remove: Sequence[str],
    rater: str,
    matched: int,
) -> TagReport:
    for t in (*add, *remove):
        check_tag(t)
    report = TagReport(task, rater, matched)
    change = RatingChange(tags_add=tuple(add), tags_remove=tuple(remove))
    runs = project.runs(task)
    for run_id in run_ids:
        state = project.states(task)[run_id]
        if set(add) <= state.tags and not set(remove) & state.tags:
            report.unchanged += 1
            continue
        existing = load_own_annotation(project, task, rater, run_id)
        annotation = apply_change(project, runs[run_id], rater, change, existing)
        save_annotation(project, task, rater, run_id, annotation)
        report.changed.append(run_id)
    return report
