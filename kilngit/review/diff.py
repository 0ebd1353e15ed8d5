"""`kilngit review BASE...HEAD`: what changed in the human and machine records between two commits.

result = review(project.root, "origin/main...HEAD")
print(render(result, "markdown"))
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilngit.evals.results import eval_results
from kilngit.project import Project
from kilngit.review.audit_effects import AuditSummary, AuditSuspect, audit_effects
from kilngit.review.changes import RecordChanges, record_changes, set_changes
from kilngit.review.effects import AgreementEffect, ScoreEffect, eval_effects
from kilngit.review.revisions import RevisionRange, changed_paths, parse_range, snapshot


@dataclass
class Review:
    """Everything a reviewer is shown about a range of commits."""

    range: RevisionRange
    changed_files: int
    changes: RecordChanges
    scores: list[ScoreEffect]
    agreement: list[AgreementEffect]
    problems: list[str]
    seconds: float
    audits: list[AuditSummary] = dataclasses.field(default_factory=list)
    """Per eval at HEAD: suspect golden labels (`kilngit audit`)."""
    suspects: list[AuditSuspect] = dataclasses.field(default_factory=list)
    judges: list[JudgeEdit] = dataclasses.field(default_factory=list)
    """Judge definitions changed in the range: the diff and how many results it made stale."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`--format json`)."""
        data = dataclasses.asdict(self)
        data["scores"] = [{**dataclasses.asdict(s), "changed": s.changed} for s in self.scores]
        data["agreement"] = [{**dataclasses.asdict(a), "changed": a.changed} for a in self.agreement]
        return data


@dataclasses.dataclass(frozen=True)
class JudgeEdit:
    """A judge definition changed in the range."""

    path: str
    status: str
    diff: str
    """Unified diff of the YAML (base -> head)."""
    stale: int
    """Results of this judge that were current before the range and are stale after it."""


def judge_edits(before: Project | None, after: Project | None, changes: RecordChanges) -> list[JudgeEdit]:
    """Each changed judge definition with its diff and the results its change made stale."""
    out = []
    for d in changes.definitions:
        if d.kind != "judge":
            continue
        old, new = (_text_at(side, d.path) for side in (before, after))
        diff = "".join(
            difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), "base/" + d.path, "head/" + d.path, n=1
            )
        )
        parts = d.path.split("/")  # tasks/<task>/evals/<eval>/judges/<judge>.yaml
        task, eval_slug, judge = parts[1], parts[3], parts[5].removesuffix(".yaml")
        out.append(
            JudgeEdit(
                d.path,
                d.status,
                diff,
                max(0, _stale(after, task, eval_slug, judge) - _stale(before, task, eval_slug, judge)),
            )
        )
    return out


def _text_at(side: Project | None, relpath: str) -> str:
    path = side.root / relpath if side is not None else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""


def _stale(side: Project | None, task: str, eval_slug: str, judge: str) -> int:
    if side is None or eval_slug not in side.evals(task):
        return 0
    return eval_results(side, task, eval_slug).stale.get(judge, 0)


def review(root: str | Path, spec: str) -> Review:
    """Compare the project at the two commits `spec` names (`BASE...HEAD`, `BASE..HEAD` or `BASE`).

    `root` is the project root (it may be a folder inside a larger repository)."""
    started = time.perf_counter()
    root = Path(root).absolute()
    rng = parse_range(root, spec)
    paths = changed_paths(root, rng)
    tasks = {p.path.split("/")[1] for p in paths if p.path.startswith("tasks/") and p.path.count("/") >= 2}
    with snapshot(root, rng.base, tasks) as before, snapshot(root, rng.head, tasks) as after:
        changes = record_changes(before, after, paths)
        set_changes(before, after, tasks, changes)
        effects = eval_effects(before, after, tasks)
        audits, suspects = audit_effects(after, tasks, {(r.task, r.run) for r in changes.ratings})
        judges = judge_edits(before, after, changes)
        problems = sorted(
            set(
                changes.problems
                + effects.problems
                + [
                    f"{p.path}: {p.message}"
                    for side in (before, after)
                    if side
                    for p in side.problems
                    if p.severity == "error"
                ]
            )
        )
    return Review(
        rng,
        len(paths),
        changes,
        effects.scores,
        effects.agreement,
        problems,
        time.perf_counter() - started,
        audits,
        suspects,
        judges,
    )
