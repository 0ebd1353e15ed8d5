"""The effect of a change on evals: each eval's scores per run config, and each judge's agreement with the
human consensus on the golden set, before -> after.

Both sides are computed by the same code as `kilngit eval` reports (`kilngit.evals.scores.eval_scores` with
the eval's default judge, `kilngit.evals.align.eval_alignment`), so a reviewer sees the numbers the team sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kilngit.errors import KilngitError
from kilngit.evals.align import eval_alignment
from kilngit.evals.scores import eval_scores
from kilngit.project import Project

#: The agreement statistic shown for each rating type when the eval has no alignment gate naming one.
HEADLINE_METRIC = {"pass_fail": "accuracy", "pass_fail_critical": "accuracy", "five_star": "kendall_tau"}


@dataclass(frozen=True)
class ScoreEffect:
    """One score of one run config: the mean normalized (0..1) score from the default judge."""

    task: str
    eval: str
    judge: str
    group: str
    """The run config (or source) the runs came from."""
    score: str
    before: float | None
    after: float | None
    n_before: int
    n_after: int

    @property
    def changed(self) -> bool:
        return (self.before, self.n_before) != (self.after, self.n_after)


@dataclass(frozen=True)
class AgreementEffect:
    """One judge's agreement with the human consensus on one score, over the golden set."""

    task: str
    eval: str
    judge: str
    score: str
    metric: str
    before: float | None
    after: float | None
    n_before: int
    n_after: int

    @property
    def changed(self) -> bool:
        return (self.before, self.n_before) != (self.after, self.n_after)


@dataclass
class EvalEffects:
    scores: list[ScoreEffect] = field(default_factory=list)
    agreement: list[AgreementEffect] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Measured = dict[tuple[str, str, str], tuple[float | None, int]]


def eval_effects(before: Project | None, after: Project | None, tasks: set[str]) -> EvalEffects:
    """Scores and judge agreement of every eval of `tasks`, on both sides."""
    out = EvalEffects()
    for task in sorted(tasks):
        for slug in sorted(set(_evals(before, task)) | set(_evals(after, task))):
            old, new = (_measure(p, task, slug, _scores, out) for p in (before, after))
            for key, (b, nb), (a, na) in _pairs(old, new):
                out.scores.append(ScoreEffect(task, slug, *key, b, a, nb, na))
            old, new = (_measure(p, task, slug, _agreement, out) for p in (before, after))
            for key, (b, nb), (a, na) in _pairs(old, new):
                out.agreement.append(AgreementEffect(task, slug, *key, b, a, nb, na))
    return out


def _evals(project: Project | None, task: str) -> dict[str, Any]:
    if project is None or task not in project.tasks():
        return {}
    return project.evals(task)


def _measure(
    project: Project | None,
    task: str,
    slug: str,
    compute: Callable[[Project, str, str], Measured],
    out: EvalEffects,
) -> Measured:
    if project is None or slug not in _evals(project, task):
        return {}
    try:
        return compute(project, task, slug)
    except KilngitError as e:
        if project.judges(task, slug):  # an eval without judges simply has no scores yet
            out.problems.append(f"eval {task}/{slug}: {e.message}")
        return {}


def _pairs(
    old: Measured, new: Measured
) -> Iterator[tuple[tuple[str, str, str], tuple[float | None, int], tuple[float | None, int]]]:
    for key in sorted(set(old) | set(new)):
        yield key, old.get(key, (None, 0)), new.get(key, (None, 0))


def _scores(project: Project, task: str, slug: str) -> Measured:
    """(judge, group, score) -> (mean normalized score, number of runs)."""
    board = eval_scores(project, task, slug)
    return {
        (board.judge, g.group, name): (stat.normalized, stat.n)
        for g in board.groups
        for name, stat in g.scores.items()
    }


def _agreement(project: Project, task: str, slug: str) -> Measured:
    """(judge, score, metric) -> (statistic, number of golden items compared)."""
    table = eval_alignment(project, task, slug)
    gate = project.evals(task)[slug].alignment_gate
    found = {}
    for judge in table.judges:
        for score in judge.scores:
            metric = gate.metric if gate else HEADLINE_METRIC[score.rating_type]
            found[(judge.judge, score.score, metric)] = (_statistic(score.report, metric), score.n)
    return found


def _statistic(report: Any, metric: str) -> float | None:
    if report is None:
        return None
    value = getattr(report, metric)
    return getattr(value, "value", value)  # correlations are objects with a value
