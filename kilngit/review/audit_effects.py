"""The label audit in `kilngit review`: suspect golden labels at HEAD, those whose ratings the range changed
first (a reviewer checks that a pull request's new labels are not the suspect ones)."""

from __future__ import annotations

from dataclasses import dataclass

from kilngit.errors import KilngitError
from kilngit.evals.audit import audit_eval
from kilngit.project import Project


@dataclass(frozen=True)
class AuditSuspect:
    task: str
    eval: str
    run: str
    p_wrong: float
    consensus: str | None
    likely: str
    changed: bool
    """True when this range changed a rating of the run."""
    why: str


@dataclass(frozen=True)
class AuditSummary:
    task: str
    eval: str
    suspects: int
    golden: int


def audit_effects(
    after: Project | None, tasks: set[str], rated: set[tuple[str, str]], per_eval: int = 5
) -> tuple[list[AuditSummary], list[AuditSuspect]]:
    """Every eval's suspect count at HEAD, and its suspects: all whose ratings changed (`rated`: (task, run)),
    then the most suspect others up to `per_eval`."""
    summaries: list[AuditSummary] = []
    shown: list[AuditSuspect] = []
    if after is None:
        return summaries, shown
    for task in sorted(tasks & set(after.tasks())):
        for eval_slug in sorted(after.evals(task)):
            try:
                report = audit_eval(after, task, eval_slug)
            except KilngitError:
                continue
            if not report.golden or not any(a.kind != "person" for a in report.annotators):
                continue  # nothing to weigh the labels against
            summaries.append(AuditSummary(task, eval_slug, len(report.suspects), report.golden))
            picked = [s for s in report.suspects if (task, s.run) in rated]
            picked += [s for s in report.suspects if (task, s.run) not in rated][:per_eval]
            shown += [
                AuditSuspect(
                    task,
                    eval_slug,
                    s.run,
                    s.p_wrong,
                    s.consensus,
                    s.likely,
                    (task, s.run) in rated,
                    "; ".join(r.text for r in s.reasons[:2]),
                )
                for s in picked
            ]
    return summaries, shown
