"""Cross-record checks beyond "the referenced record exists", one function per kind that needs one.

Each is named in that kind's entry of the kinds table (kilngit.kinds) and called by `kilngit validate` with a
`Context` that finds other records by kind and path parts, so a check never needs the project loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from kilngit.errors import KilngitError
from kilngit.filters import parse_filter
from kilngit.problems import Problem
from kilngit.records import (
    Annotation,
    Eval,
    Judge,
    JudgeResult,
    Record,
    Task,
)

if TYPE_CHECKING:  # the models of kinds few commands read, imported when one is checked (kilngit.kinds)
    from kilngit.records import DatasetSplit, FineTune, SplitMembership


class Context(Protocol):
    """What a check may ask about the rest of the project."""

    def exists(self, kind: str, **parts: str) -> bool:
        """Whether the file of that kind at those path parts exists."""

    def definition(self, kind: str, **parts: str) -> Record | None:
        """That record, parsed (None when missing or invalid)."""

    def file_exists(self, relpath: str) -> bool:
        """Whether a plain file of the project exists."""


def annotation(ctx: Context, path: str, record: Annotation, parts: Mapping[str, str]) -> list[Problem]:
    task = ctx.definition("task", task=parts["task"])
    if not isinstance(task, Task):
        return []
    out = []
    if record.rating:
        bad = task.rating_problem("overall", record.rating.type, record.rating.label)
        if bad:
            out.append(Problem(path, bad[0], bad[1], f"/rating/{bad[2]}"))
    for name, rating in record.requirements.items():
        req = task.requirement(name)
        if req is None:
            known = ", ".join(r.name for r in task.requirements) or "none"
            out.append(
                Problem(
                    path, f"task has no requirement {name!r}", f"use one of: {known}", f"/requirements/{name}"
                )
            )
        elif bad := task.rating_problem(name, rating.type, rating.label):
            out.append(Problem(path, bad[0], bad[1], f"/requirements/{name}/{bad[2]}"))
    return out


def eval_(ctx: Context, path: str, record: Eval, parts: Mapping[str, str]) -> list[Problem]:
    out = _filter_problems(path, record.eval_set, "/eval_set") + _filter_problems(
        path, record.golden_set, "/golden_set"
    )
    task = ctx.definition("task", task=parts["task"])
    if isinstance(task, Task):
        for i, score in enumerate(record.scores):
            target = score.human_rating
            if target and target != "overall" and task.requirement(target) is None:
                out.append(
                    Problem(
                        path,
                        f"score {score.name!r} compares with unknown requirement {target!r}",
                        "use overall or one of the task's requirement names",
                        f"/scores/{i}/human_rating",
                    )
                )
    return out


def judge(ctx: Context, path: str, record: Judge, parts: Mapping[str, str]) -> list[Problem]:
    out = []
    ev = ctx.definition("eval", task=parts["task"], eval=parts["eval"])
    if not isinstance(ev, Eval):
        out.append(
            Problem(
                path,
                "the eval this judge belongs to does not exist or is invalid",
                "create or fix eval.yaml in the eval's folder",
            )
        )
    elif record.score and not ev.score(record.score):
        out.append(
            Problem(
                path,
                f"eval has no score {record.score!r}",
                f"use one of: {', '.join(s.name for s in ev.scores)}",
                "/score",
            )
        )
    if record.knowledge_file and not ctx.file_exists(record.knowledge_file):
        out.append(
            Problem(
                path,
                f"knowledge file {record.knowledge_file!r} does not exist",
                f"create {record.knowledge_file} or fix the reference",
                "/knowledge_file",
            )
        )
    for i, slug in enumerate(record.evidence or []):
        other = ctx.definition("judge", task=parts["task"], eval=parts["eval"], slug=slug)
        if other is None:
            out.append(
                Problem(
                    path,
                    f"evidence judge {slug!r} does not exist in this eval",
                    "name a judge of the same eval (a file under its judges/)",
                    f"/evidence/{i}",
                )
            )
        elif isinstance(other, Judge) and other.evidence:
            out.append(
                Problem(
                    path,
                    f"evidence judge {slug!r} is itself grounded",
                    "take evidence from judges that do not read other judges",
                    f"/evidence/{i}",
                )
            )
    return out


def judge_result(ctx: Context, path: str, record: JudgeResult, parts: Mapping[str, str]) -> list[Problem]:
    ev = ctx.definition("eval", task=parts["task"], eval=parts["eval"])
    if isinstance(ev, Eval):
        unknown = sorted(set(record.scores) - {s.name for s in ev.scores})
        if unknown:
            return [
                Problem(
                    path,
                    f"scores not in the eval: {', '.join(unknown)}",
                    "restore the result or the eval's score list",
                    "/scores",
                    "warning",
                )
            ]
    return []


def dataset_split(ctx: Context, path: str, record: DatasetSplit, parts: Mapping[str, str]) -> list[Problem]:
    return _filter_problems(path, record.filter, "/filter")


def split_membership(
    ctx: Context, path: str, record: SplitMembership, parts: Mapping[str, str]
) -> list[Problem]:
    out = []
    for part, ids in record.parts.items():
        missing = [i for i in ids if not ctx.exists("task_run", task=parts["task"], id=i)]
        if missing:
            out.append(
                Problem(
                    path,
                    f"{len(missing)} runs of part {part!r} do not exist (e.g. {missing[0]})",
                    "restore the runs or re-materialize the split",
                    f"/parts/{part}",
                )
            )
    return out


def finetune(ctx: Context, path: str, record: FineTune, parts: Mapping[str, str]) -> list[Problem]:
    from kilngit.records import DatasetSplit

    split = ctx.definition("dataset_split", task=parts["task"], slug=record.split)
    if not isinstance(split, DatasetSplit):
        return []
    names = {p.name for p in split.parts}
    out = []
    for key, value in (("train_part", record.train_part), ("validation_part", record.validation_part)):
        if value and value not in names:
            out.append(
                Problem(
                    path,
                    f"split {record.split!r} has no part {value!r}",
                    f"use one of: {', '.join(sorted(names))}",
                    f"/{key}",
                )
            )
    return out


def _filter_problems(path: str, text: str, pointer: str) -> list[Problem]:
    try:
        parse_filter(text, splits=lambda name, part: frozenset())
    except KilngitError as e:
        return [Problem(path, f"invalid run filter: {e.message}", e.hint or "fix the filter", pointer)]
    return []
