"""Job requests: `kilngit queue eval` / `kilngit queue run` write one; a watcher that pulls it runs the job and
writes its outcome (see `kilngit.records.queue`). A request with an outcome is done and never runs again.

    tasks/<task>/queue/<request id>.json          the request
    tasks/<task>/queue/done/<outcome id>.json     its outcome (names the request)
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from kilngit import layout
from kilngit.errors import NotFoundError, UsageError
from kilngit.identity import current_person
from kilngit.load import parse_record
from kilngit.project import Project
from kilngit.records import JobOutcome, JobRequest


@dataclass(frozen=True)
class QueuedJob:
    """A request and, once it ran, its outcome."""

    request: JobRequest
    outcome: JobOutcome | None

    @property
    def state(self) -> str:
        return self.outcome.state if self.outcome else "queued"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def queue_eval(
    project: Project,
    eval_slug: str,
    task: str | None = None,
    *,
    filter_text: str | None = None,
    judges: tuple[str, ...] = (),
    samples: int | None = None,
    note: str | None = None,
    requested_by: str | None = None,
) -> JobRequest:
    """Write a request to judge an eval (all its judges unless `judges` names some)."""
    task = project.task_slug(task)
    if eval_slug not in project.evals(task):
        raise NotFoundError(
            f"task {task!r} has no eval {eval_slug!r}", f"evals: {', '.join(project.evals(task)) or 'none'}"
        )
    options: dict[str, str | int | float | bool] = {}
    if judges:
        options["judges"] = ",".join(judges)
    if samples is not None:
        options["samples"] = _positive(samples, "--samples")
    return _write(
        project,
        JobRequest(
            task=task,
            job="eval",
            eval=eval_slug,
            filter=filter_text,
            options=options,
            requested_by=current_person(project.root, requested_by),
            requested_at=utc_now(),
            note=note,
        ),
    )


def queue_run(
    project: Project,
    task: str,
    run_config: str,
    *,
    filter_text: str | None = None,
    samples: int | None = None,
    note: str | None = None,
    requested_by: str | None = None,
) -> JobRequest:
    """Write a request to run a task with a run config over the runs a filter picks (default: input-only)."""
    task = project.task_slug(task)
    if run_config not in project.run_configs(task):
        raise NotFoundError(
            f"task {task!r} has no run config {run_config!r}",
            f"run configs: {', '.join(project.run_configs(task)) or 'none'}",
        )
    if filter_text:
        project.run_filter(task, filter_text)  # a bad filter is refused now, not on the other machine
    options: dict[str, str | int | float | bool] = {}
    if samples is not None:
        options["samples"] = _positive(samples, "--samples")
    return _write(
        project,
        JobRequest(
            task=task,
            job="run",
            run_config=run_config,
            filter=filter_text,
            options=options,
            requested_by=current_person(project.root, requested_by),
            requested_at=utc_now(),
            note=note,
        ),
    )


def _positive(value: int, option: str) -> int:
    if value < 1:
        raise UsageError(f"{option} must be at least 1")
    return value


def _write(project: Project, request: JobRequest) -> JobRequest:
    request = request.with_id()  # type: ignore[assignment]
    project.write_record(request)
    return request


def queued_jobs(project: Project, task: str | None = None) -> list[QueuedJob]:
    """Every request of a task (or of all tasks), oldest first, each with its outcome if it ran."""
    tasks = [project.task_slug(task)] if task else list(project.tasks())
    out = []
    for slug in tasks:
        requests = _read_all(project, f"tasks/{slug}/queue", JobRequest)
        outcomes = {o.request: o for o in _read_all(project, f"tasks/{slug}/queue/done", JobOutcome)}
        out += [QueuedJob(r, outcomes.get(r.id)) for r in requests]
    return sorted(out, key=lambda q: (q.request.requested_at, q.request.id))


def write_outcome(
    project: Project, request: JobRequest, state: str, summary: str | None = None, error: str | None = None
) -> JobOutcome:
    """Record how a request ended, so no watcher runs it again."""
    outcome = JobOutcome(
        task=request.task,
        request=request.id,
        state=state,  # type: ignore[arg-type]
        finished_at=utc_now(),
        summary=summary,
        error=error,
    ).with_id()
    project.write_record(outcome)
    return outcome  # type: ignore[return-value]


def find_request(project: Project, task: str, request_id: str) -> JobRequest:
    parsed = parse_record(project.root, layout.job_request_file(task, request_id))
    if not isinstance(parsed.record, JobRequest):
        raise NotFoundError(f"no job request {request_id} in task {task!r}")
    return parsed.record


def _read_all(project: Project, reldir: str, kind: type) -> list:  # type: ignore[type-arg]
    folder = project.root / reldir
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for name in names:
        parsed = parse_record(project.root, f"{reldir}/{name}", full=False)
        if isinstance(parsed.record, kind) and not any(p.severity == "error" for p in parsed.problems):
            out.append(parsed.record)
    return out
