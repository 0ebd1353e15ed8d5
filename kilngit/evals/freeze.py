"""Frozen eval and golden sets: a set decided once, like a dataset split, so later runs never join it silently.

A live set is a filter (`eval_set: tag::eval_set`): every later run matching it joins. Freezing one writes a
one-part split `tasks/<task>/splits/<eval>-<eval|golden>.yaml` whose filter is the set's filter (taking every
matching run, input-only ones included), freezes its membership, and points eval.yaml at it
(`eval_set: split::<eval>-eval/all`), so eval.yaml says which sets are frozen. Freezing again reports the
drift (runs matching the filter that are not in the set); `extend` adds them without dropping any.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kilngit import layout
from kilngit.errors import UsageError
from kilngit.evals.results import find_eval
from kilngit.finetune.splits import materialize_split
from kilngit.project import Project
from kilngit.records import DatasetSplit, SplitPart

__all__ = ["FreezeReport", "SetName", "freeze_set", "frozen_split"]

SetName = Literal["eval_set", "golden_set"]
PART = "all"


@dataclass(frozen=True)
class FreezeReport:
    task: str
    eval: str
    set: str
    split: str
    filter: str
    """The filter the set was frozen from."""
    members: int
    created: bool
    """True when this call froze the set (or extended it)."""
    added: int
    drift: int
    """Runs matching the filter that are not in the frozen set (join with extend)."""

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def split_name(eval_slug: str, which: SetName) -> str:
    return f"{eval_slug}-{which.removesuffix('_set')}"


def frozen_split(filter_text: str) -> str | None:
    """The split a frozen set's filter names (`split::NAME/all`), else None."""
    text = filter_text.strip()
    if text.startswith("split::") and text.endswith(f"/{PART}") and " " not in text:
        return text[len("split::") : -len(PART) - 1]
    return None


def freeze_set(
    project: Project, task: str | None, eval_slug: str, which: SetName = "eval_set", *, extend: bool = False
) -> FreezeReport:
    """Freeze the eval's `which` set (first call), or report its drift and, with `extend`, add the runs."""
    task = project.task_slug(task)
    ev = find_eval(project, task, eval_slug)
    if which not in ("eval_set", "golden_set"):
        raise UsageError(f"unknown set {which!r}", "use eval_set or golden_set")
    current = getattr(ev, which)
    name = frozen_split(current)
    if name is None:
        if not project.select(task, current):
            raise UsageError(
                f"the {which} of eval {eval_slug!r} ({current!r}) matches no run: nothing to freeze",
                "tag runs first (kilngit tag / kilngit sample), or fix the filter in eval.yaml",
            )
        name = split_name(eval_slug, which)
        split = DatasetSplit(
            description=f"frozen {which} of eval {eval_slug}",
            filter=current,
            parts=[SplitPart(name=PART, fraction=1.0)],
            allow_eval_items=True,
            all_runs=True,
        )
        project.write_definition(layout.split_file(task, name), split)
        report = materialize_split(project, task, name)
        project.write_definition(
            layout.eval_file(task, eval_slug), ev.model_copy(update={which: f"split::{name}/{PART}"})
        )
    else:
        report = materialize_split(project, task, name, extend_new=extend)
    split = project.splits(task)[name]
    return FreezeReport(
        task,
        eval_slug,
        which,
        name,
        split.filter,
        sum(report.counts.values()),
        report.created,
        report.added,
        report.waiting,
    )
