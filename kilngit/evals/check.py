"""`eval check`: the CI gate. An eval passes when, for every run config on its scoreboard (or the ones asked
for), every score with a threshold has a mean normalized score at or above it, and its judge is trusted.

A judge is trusted as a gate when the eval has no `alignment_gate`, or when on every score it sets, its
agreement with the human consensus on the golden set (the gate's metric) is at least the gate's minimum over
at least `min_items` items. Otherwise the judge is refused, with the reason, and the check fails: a score
from a judge nobody checked against humans is not evidence. Runs not judged yet also fail the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kilngit.evals.align import eval_alignment
from kilngit.evals.metrics import AlignmentReport, Correlation, JsonDataclass
from kilngit.evals.results import eval_results, find_eval, judged_evals
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.records.evals import AlignmentGate


@dataclass
class GateVerdict(JsonDataclass):
    judge: str
    metric: str
    min: float
    min_items: int
    values: dict[str, float | None]
    """score -> the judge's value of the gate metric."""
    items: dict[str, int]
    trusted: bool
    reason: str | None


@dataclass(frozen=True)
class ThresholdCheck(JsonDataclass):
    group: str
    score: str
    threshold: float
    value: float | None
    """Mean normalized score (0..1)."""
    n: int
    ok: bool
    reason: str | None


@dataclass
class EvalCheck(JsonDataclass):
    task: str
    eval: str
    judge: str
    gate: GateVerdict | None
    checks: list[ThresholdCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems and all(c.ok for c in self.checks) and (self.gate is None or self.gate.trusted)
        )


@dataclass
class CheckReport(JsonDataclass):
    evals: list[EvalCheck]

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.evals)


def eval_check(
    project: Project, task: str | None = None, evals: Sequence[str] = (), configs: Sequence[str] = ()
) -> CheckReport:
    """Check the named evals (default: every eval of the task) against their thresholds and alignment gates."""
    task = project.task_slug(task)
    names = list(evals) or judged_evals(project, task).names
    return CheckReport([_check_one(project, task, name, configs) for name in names])


def _check_one(project: Project, task: str, eval_slug: str, configs: Sequence[str]) -> EvalCheck:
    ev = find_eval(project, task, eval_slug)
    results = eval_results(project, task, eval_slug)
    board = eval_scores(project, task, eval_slug, results=results)
    gate = None
    if ev.alignment_gate is not None:
        table = eval_alignment(project, task, eval_slug, results=results)
        judge = next(j for j in table.judges if j.judge == board.judge)
        gate = judge_gate(
            board.judge,
            {
                s.score: s.report if s.report is not None else s.labels  # type: ignore[misc]
                for s in judge.scores
            },
            ev.alignment_gate,
        )
    check = EvalCheck(task, eval_slug, board.judge, gate)
    groups = [g for g in board.groups if not configs or g.group in configs]
    for missing in sorted(set(configs) - {g.group for g in groups}):
        check.problems.append(
            f"run config {missing!r} has no runs on this eval's inputs "
            f"(run: kilngit run eval {eval_slug} --config {missing})"
        )
    if not groups and not configs:
        check.problems.append(
            f"nothing to check: the eval set has {board.inputs} input(s) and no run with an output yet"
            if board.inputs
            else "nothing to check: the eval set is empty"
        )
    for group in groups:
        if group.unjudged:
            check.problems.append(
                f"{group.group}: {group.unjudged} run(s) not judged yet by {board.judge} "
                f"(run: kilngit run eval {eval_slug})"
            )
        for score, threshold in sorted(ev.thresholds.items()):
            stat = group.scores.get(score)
            value = stat.normalized if stat else None
            if value is None:
                check.checks.append(
                    ThresholdCheck(group.group, score, threshold, None, 0, False, "no scores")
                )
            else:
                ok = value >= threshold
                reason = None if ok else f"{value:.3f} < {threshold:g}"
                check.checks.append(ThresholdCheck(group.group, score, threshold, value, stat.n, ok, reason))  # type: ignore[union-attr]
    return check


def judge_gate(judge: str, reports: dict[str, AlignmentReport | None], gate: AlignmentGate) -> GateVerdict:
    """Whether a judge's agreement with humans clears the gate on every score it sets."""
    values: dict[str, float | None] = {}
    items: dict[str, int] = {}
    reasons = []
    for score, report in reports.items():
        items[score] = report.n if report else 0
        value = getattr(report, gate.metric, None) if report else None
        if isinstance(value, Correlation):
            value = value.value
        values[score] = value
        if items[score] < gate.min_items:
            reasons.append(
                f"{score}: only {items[score]} golden item(s) with human and judge scores "
                f"(the gate needs {gate.min_items})"
            )
        elif value is None:
            reasons.append(f"{score}: {gate.metric} is undefined on the golden set (constant ratings?)")
        elif value < gate.min:
            reasons.append(f"{score}: {gate.metric} {value:.3f} < {gate.min:g} (n={items[score]})")
    if not reports:
        reasons.append("the judge sets none of the eval's scores")
    reason = f"judge {judge!r} refused as a gate: " + "; ".join(reasons) if reasons else None
    return GateVerdict(judge, gate.metric, gate.min, gate.min_items, values, items, not reasons, reason)
