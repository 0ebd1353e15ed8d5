"""Pending work, derived from the project's files, and a pool that runs it in the background.

Work left is always computed from what is on disk, so a watcher killed mid-job picks up where it stopped:

* evals with `auto_run: true` whose judges have not judged every run of the eval set and golden set;
* job requests (`kilngit queue ...`) without an outcome;
* batches of `run task --batch` / `run eval --batch` still open at the provider: their answers are recorded
  and their runs and judge results written once they end (`kilngit.sync.batches`);
* OpenAI fine-tunes whose status says the provider's job is still queued or running: their status, metrics
  and (once done) run config are refreshed. Uploads interrupted before a job existed, and Tinker training
  (which runs in the process that started it), are left to `kilngit finetune start`: the watcher cannot
  tell whether that process is still at work.

Each job runs in its own process (`python -m kilngit.sync.jobrun`): it can be stopped cleanly on SIGTERM,
its memory goes back to the system when it ends, and a crash in a runner never takes the watcher down. Jobs
write result files as they go; the watcher commits them in batches like any other change.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from kilngit._child import python_module
from kilngit.evals.items import eval_items, judgeable
from kilngit.evals.results import eval_results
from kilngit.project import Project
from kilngit.sync.batches import followed
from kilngit.sync.lock import watch_dir
from kilngit.sync.queue import queued_jobs

JobKind = Literal["eval", "request", "finetune", "batch"]
PARENT_ENV = "KILNGIT_JOB_PARENT"
"""Tells a job process which watcher started it, so it dies with it (`kilngit.joblock.die_with_parent`)."""
EXIT_RETRY_LATER = 75  # EX_TEMPFAIL: the job could not run here now (provider down, no key); try again later
#: job kind -> module it needs; kinds whose module is not part of this build are skipped.
NEEDS = {
    "eval": "kilngit.evals.runner",
    "request": "kilngit.runner",
    "finetune": "kilngit.finetune.dispatch",
    "batch": "kilngit.runner",
}


@dataclass(frozen=True)
class Job:
    """One piece of pending work. `key` identifies it across scans (the same key is never run twice at once)."""

    key: str
    kind: JobKind
    task: str
    label: str
    args: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


def available(kind: str) -> bool:
    """True when the module a job kind runs with is installed in this build."""
    try:
        return importlib.util.find_spec(NEEDS[kind]) is not None
    except ModuleNotFoundError:
        return False


def pending_jobs(root: str | Path) -> list[Job]:
    """Every job the project's files say is pending, in a stable order (requests first, oldest first)."""
    project = Project(root)
    jobs: list[Job] = []
    if available("request"):
        for queued in queued_jobs(project):
            if queued.outcome is None:
                r = queued.request
                what = f"eval {r.eval}" if r.job == "eval" else f"run {r.run_config}"
                jobs.append(
                    Job(
                        f"request:{r.task}/{r.id}",
                        "request",
                        r.task,
                        f"queued {what} ({r.task}) from {r.requested_by}",
                        {"request": r.id},
                    )
                )
    if available("batch"):
        for f in followed(project):
            label = f"follow {f.batches} open batch(es) of {f.what}"
            jobs.append(Job(f"batch:{f.origin}", "batch", f.spec["task"], label, {"origin": f.origin}))
    for task in project.tasks():
        if available("eval"):
            for slug, ev in project.evals(task).items():
                missing = _missing_judgements(project, task, slug) if ev.auto_run else 0
                if missing:
                    jobs.append(
                        Job(
                            f"eval:{task}/{slug}",
                            "eval",
                            task,
                            f"auto-run eval {slug} ({task}): {missing} judgement(s) missing",
                            {"eval": slug},
                        )
                    )
        if available("finetune"):
            for slug, spec in project.finetunes(task).items():
                status = project.finetune_status(task, slug)
                if (
                    spec.provider == "openai"
                    and status is not None
                    and status.provider_job_id
                    and status.state in ("queued", "running")
                ):
                    jobs.append(
                        Job(
                            f"finetune:{task}/{slug}",
                            "finetune",
                            task,
                            f"refresh fine-tune {slug} ({task}): {status.state}",
                            {"finetune": slug},
                        )
                    )
    return jobs


def _missing_judgements(project: Project, task: str, eval_slug: str) -> int:
    """(judge, run) pairs of an eval's eval set and golden set with no current result yet."""
    results = eval_results(project, task, eval_slug)
    items = eval_items(project, task, results.eval)
    runs = judgeable(items.eval_set + items.golden)
    return sum(
        1 for judge in results.judges for s in runs if not ((v := results.verdict(judge, s.id)) and v.done(0))
    )


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen[bytes]
    started: float
    log: Path


@dataclass
class JobEnd:
    """A finished job: how it ended and its last line of output (a summary or the error)."""

    job: Job
    outcome: Literal["done", "failed", "retry", "stopped"]
    message: str
    seconds: float


class JobPool:
    """Runs jobs in child processes, at most `max_jobs` at a time, with a cooldown before a job key that
    finished (or failed) is started again, doubling while it keeps coming back."""

    def __init__(self, root: str | Path, max_jobs: int = 2, cooldown_s: float = 30.0) -> None:
        self.root = Path(root).absolute()
        self.max_jobs = max_jobs
        self.cooldown_s = cooldown_s
        self.running: dict[str, _Running] = {}
        self._not_before: dict[str, tuple[float, float]] = {}  # key -> (time, current cooldown)
        self.log_dir = watch_dir(self.root) / "jobs"
        self.log_dir.mkdir(exist_ok=True)
        self.finished = 0

    def start_pending(self, jobs: list[Job]) -> list[Job]:
        """Start the jobs that are not running, not cooling down, while slots are free. Returns those started."""
        now = time.monotonic()
        pending_keys = {j.key for j in jobs}
        for key in [k for k in self._not_before if k not in pending_keys and k not in self.running]:
            del self._not_before[key]  # no longer pending: forget its cooldown
        started = []
        for job in jobs:
            if len(self.running) >= self.max_jobs:
                break
            if job.key in self.running or self._not_before.get(job.key, (0.0, 0.0))[0] > now:
                continue
            self.running[job.key] = self._spawn(job)
            started.append(job)
        return started

    def cooldown_ended(self, since: float, now: float) -> bool:
        """Whether a job key's cooldown ran out in (since, now]: that job may start again, so the watcher
        looks at the jobs now rather than at its next periodic scan."""
        return any(since < t <= now for t, _ in self._not_before.values())

    def _spawn(self, job: Job) -> _Running:
        log = self.log_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "_", job.key) + ".log")
        with open(log, "wb") as out:
            process = subprocess.Popen(
                python_module("kilngit.sync.jobrun", str(self.root), job.to_json()),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, PARENT_ENV: str(os.getpid())},
                start_new_session=True,
            )  # a Ctrl-C in the terminal reaches us, not it
        return _Running(job, process, time.monotonic(), log)

    def reap(self) -> list[JobEnd]:
        """Collect the jobs that ended since the last call."""
        ends = []
        for key, running in list(self.running.items()):
            code = running.process.poll()
            if code is None:
                continue
            del self.running[key]
            self.finished += 1
            outcome = {0: "done", 1: "failed", EXIT_RETRY_LATER: "retry"}.get(
                code, "stopped" if code < 0 or code == 130 else "failed"
            )
            ends.append(
                JobEnd(
                    running.job,
                    outcome,  # type: ignore[arg-type]
                    _last_line(running.log),
                    time.monotonic() - running.started,
                )
            )
            previous = self._not_before.get(key, (0.0, self.cooldown_s / 2))[1]
            cooldown = min(previous * 2, 3600.0)
            self._not_before[key] = (time.monotonic() + cooldown, cooldown)
        return ends

    def stop(self, grace_s: float = 10.0) -> list[JobEnd]:
        """Ask every running job to stop (SIGINT: runners keep what they finished), then kill stragglers."""
        for running in self.running.values():
            _signal(running.process, signal.SIGINT)
        deadline = time.monotonic() + grace_s
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)
            if all(r.process.poll() is not None for r in self.running.values()):
                break
        for running in self.running.values():
            if running.process.poll() is None:
                _signal(
                    running.process, signal.SIGKILL
                )  # writes are atomic: nothing torn, temp files swept later
                running.process.wait()
        return self.reap()

    def describe(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {"key": k, "label": r.job.label, "pid": r.process.pid, "seconds": round(now - r.started, 1)}
            for k, r in self.running.items()
        ]


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so the watcher's RSS follows what is
    live rather than the peak of the last scan of the project."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc() if sys.platform.startswith("linux") else None


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _last_line(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 2000))
            lines = [x for x in f.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""
