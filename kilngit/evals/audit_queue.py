"""The re-review queue `kilngit audit --queue` writes and `kilngit label --audit` walks.

The queue is local state (`.kilngit/audit/<task>.json`, not committed): the suspects of the last audit with
the evidence to show. Walking it writes ordinary annotations (the reviewer's own file), so the outcome is
reviewed in a pull request like any label; nobody else's label is touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kilngit import layout
from kilngit._io import atomic_write
from kilngit.errors import NotFoundError
from kilngit.evals.audit import AuditReport
from kilngit.evals.audit_render import evidence_lines
from kilngit.project import Project
from kilngit.records.annotation import utc_stamp


@dataclass(frozen=True)
class AuditQueue:
    task: str
    eval: str
    made_at: str
    """When the audit ran (UTC, a `rated_at` stamp): labels given after it count as re-reviewed."""
    runs: list[str]
    evidence: dict[str, list[str]]
    """run -> lines shown beside it."""


def queue_path(project: Project, task: str) -> Path:
    return project.root / layout.LOCAL_STATE / "audit" / f"{task}.json"


def write_queue(project: Project, report: AuditReport) -> AuditQueue:
    """Save the suspects of `report` (most suspect first) as the task's re-review queue."""
    queue = AuditQueue(
        report.task,
        report.eval,
        utc_stamp(),
        [s.run for s in report.suspects],
        {s.run: evidence_lines(s) for s in report.suspects},
    )
    data = {
        "task": queue.task,
        "eval": queue.eval,
        "made_at": queue.made_at,
        "runs": queue.runs,
        "evidence": queue.evidence,
    }
    atomic_write(
        queue_path(project, report.task), (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
    )
    return queue


def read_queue(project: Project, task: str) -> AuditQueue:
    """The task's re-review queue, or a NotFoundError saying how to make one."""
    path = queue_path(project, task)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AuditQueue(
            data["task"], data["eval"], data["made_at"], list(data["runs"]), dict(data["evidence"])
        )
    except FileNotFoundError:
        raise NotFoundError(
            f"task {task!r} has no audit queue", "make one: kilngit audit EVAL --queue"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise NotFoundError(
            f"the audit queue {path} is unreadable ({e})", "make it again: kilngit audit EVAL --queue"
        ) from None


def runs_to_review(project: Project, queue: AuditQueue, rater: str) -> list[str]:
    """The queue's runs this rater has not labeled since the audit (in the queue's order)."""
    states = project.states(queue.task)
    out = []
    for run_id in queue.runs:
        state = states.get(run_id)
        if state is None or state.run.output is None:
            continue
        mine = state.annotation_by(rater)
        if mine is None or not mine.rated_at or mine.rated_at < queue.made_at:
            out.append(run_id)
    return out
