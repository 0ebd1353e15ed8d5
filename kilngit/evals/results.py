"""Reading an eval's judge results: current or stale, one verdict per (judge, run), samples averaged.

A result is *current* when its `judge_hash` equals the hash of the judge's definition (and its eval's
scores) today; any other result is *stale*: reported, never mixed into scores or alignment. For one
(judge, run, sample), a result with scores wins over results with an error (a retried error stays on disk as
history), and several scored results (two people judging at once) are averaged. A run's scores are the mean
over its samples.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kilngit.errors import NotFoundError, did_you_mean
from kilngit.project import Project
from kilngit.records import Eval, Judge, JudgeResult
from kilngit.records.evals import judge_hash


@dataclass
class RunVerdict:
    """Everything current one judge said about one run."""

    run: str
    samples: dict[int, list[JudgeResult]] = field(default_factory=dict)

    def scored(self) -> list[JudgeResult]:
        return [r for results in self.samples.values() for r in results if not r.error]

    @property
    def errors(self) -> list[JudgeResult]:
        return [r for results in self.samples.values() for r in results if r.error]

    def scores(self) -> dict[str, float]:
        """Mean of each score over the samples that gave it (each sample first averaged over its results)."""
        sums: dict[str, list[float]] = defaultdict(list)
        for results in self.samples.values():
            per_sample: dict[str, list[float]] = defaultdict(list)
            for r in results:
                if not r.error:
                    for name, value in r.scores.items():
                        per_sample[name].append(value)
            for name, values in per_sample.items():
                sums[name].append(sum(values) / len(values))
        return {name: sum(v) / len(v) for name, v in sums.items()}

    def labels(self) -> dict[str, str]:
        """The class of each label score: the one most results gave (ties: the first in class-name order)."""
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for r in self.scored():
            for name, label in r.labels.items():
                counts[name][label] += 1
        return {name: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for name, c in counts.items()}

    def done(self, sample: int, retry_errors: bool = False) -> bool:
        """True when this sample needs no (more) judging."""
        results = self.samples.get(sample, [])
        return any(not r.error for r in results) or (bool(results) and not retry_errors)

    def first_error(self) -> str | None:
        errors = self.errors
        return errors[0].error if errors and not self.scored() else None


@dataclass
class EvalResults:
    """The results of one eval, split into current (by judge and run) and stale."""

    task: str
    eval_slug: str
    eval: Eval
    judges: dict[str, Judge]
    hashes: dict[str, str]
    current: dict[str, dict[str, RunVerdict]]
    """judge -> run ID -> verdict."""
    stale: Counter[str]
    """judge -> number of results with an old definition hash (or from a judge that no longer exists)."""

    def verdict(self, judge: str, run: str) -> RunVerdict | None:
        return self.current.get(judge, {}).get(run)

    def stale_total(self) -> int:
        return sum(self.stale.values())


def eval_results(project: Project, task: str, eval_slug: str) -> EvalResults:
    """Load and sort the results of one eval."""
    ev = find_eval(project, task, eval_slug)
    judges = project.judges(task, eval_slug)
    hashes = {name: judge_hash(j, ev, judges) for name, j in judges.items()}
    current: dict[str, dict[str, RunVerdict]] = {name: {} for name in judges}
    stale: Counter[str] = Counter()
    for result in sorted(project.judge_results(task, eval_slug), key=lambda r: r.id):
        if hashes.get(result.judge) != result.judge_hash:
            stale[result.judge] += 1
            continue
        verdict = current[result.judge].setdefault(result.run, RunVerdict(result.run))
        verdict.samples.setdefault(result.sample, []).append(result)
    return EvalResults(task, eval_slug, ev, judges, hashes, current, stale)


def find_eval(project: Project, task: str, eval_slug: str) -> Eval:
    """The eval called `eval_slug` of `task`, or a NotFoundError listing the evals."""
    evals = project.evals(task)
    if eval_slug not in evals:
        raise NotFoundError(
            f"task {task!r} has no eval {eval_slug!r}",
            did_you_mean(eval_slug, evals)
            + f"evals: {', '.join(evals) or 'none yet (create tasks/<task>/evals/<eval>/eval.yaml)'}",
        )
    return evals[eval_slug]


def find_judge(project: Project, task: str, eval_slug: str, judge: str | None) -> str:
    """The judge to score with: `judge` if given, else the eval's default judge, else its only judge."""
    ev = find_eval(project, task, eval_slug)
    judges = project.judges(task, eval_slug)
    name = judge or ev.default_judge
    if name is None:
        if len(judges) == 1:
            return next(iter(judges))
        raise NotFoundError(
            f"eval {eval_slug!r} has {len(judges) or 'no'} judges and no default_judge",
            f"pass --judge ({', '.join(judges) or 'add one under judges/'}) or set default_judge",
        )
    if name not in judges:
        raise NotFoundError(
            f"eval {eval_slug!r} has no judge {name!r}",
            f"{did_you_mean(name, judges)}judges: {', '.join(judges) or 'none'}",
        )
    return name


@dataclass(frozen=True)
class JudgedEvals:
    names: list[str]
    """The task's evals that have at least one judge."""
    skipped: list[str]
    """Evals without a judge (nothing to score or check yet)."""


def judged_evals(project: Project, task: str) -> JudgedEvals:
    """The evals commands run over when none is named: those with judges (an eval imported or written
    without one is skipped, not an error)."""
    names = list(project.evals(task))
    with_judges = [n for n in names if project.judges(task, n)]
    return JudgedEvals(with_judges, [n for n in names if n not in with_judges])
