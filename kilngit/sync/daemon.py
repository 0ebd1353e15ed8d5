"""The `kilngit watch` main loop: events -> quiet window -> validate and commit -> jobs -> pull and push.

    Watch(root, WatchOptions(sync=True)).run()    # until SIGTERM / Ctrl-C
    Watch(root, WatchOptions()).once()            # everything pending, once (cron, CI)

SIGTERM and Ctrl-C set a flag: the current validate-and-commit finishes, running jobs are asked to stop (what
they finished is kept), a last full scan commits what they wrote, with --sync a last push is tried, and the
process exits 0. A second Ctrl-C stops at once; nothing is torn either way, since every write is atomic and
every commit is a ref swap.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kilngit.errors import KilngitError
from kilngit.project import Project
from kilngit.providers.batch_jobs import batches_in_progress
from kilngit.sync.committer import Committer, FlushResult
from kilngit.sync.debounce import Debouncer
from kilngit.sync.jobs import Job, JobPool, pending_jobs, release_memory
from kilngit.sync.lock import WatcherLock, commit_lock
from kilngit.sync.problems import InvalidFiles
from kilngit.sync.recovery import recover
from kilngit.sync.statusfile import iso, status_path, write_json
from kilngit.sync.syncer import Syncer
from kilngit.sync.watcher import ProjectWatcher
from kilngit.trust import review
from kilngit.trust.store import store_file

TICK_S = 0.2
STATUS_EVERY_S = 2.0
FULL_SCAN_EVERY_S = 600.0


@dataclass
class WatchOptions:
    """How the watcher behaves (see `kilngit watch --help`)."""

    quiet_s: float = 1.5
    max_wait_s: float = 10.0
    poll: bool = False
    poll_interval_s: float = 1.0
    sync: bool = False
    remote: str | None = None
    sync_interval_s: float = 60.0
    jobs: bool = True
    max_jobs: int = 2
    job_cooldown_s: float = 30.0
    jobs_interval_s: float = 60.0


class Watch:
    """One watcher for one project. `say` receives every line meant for the terminal."""

    def __init__(
        self, root: str | Path, options: WatchOptions | None = None, say: Callable[[str], None] = print
    ) -> None:
        self.options = options or WatchOptions()
        self.project = Project.find(root)
        self.project.require_writable()  # never auto-commit into a project of an older layout
        self.root = self.project.root
        recordings = self.project.manifest.recordings
        self.recordings_dir = recordings.path if recordings else "recordings"
        self.committer = Committer(self.root, self.recordings_dir)
        self.debouncer = Debouncer(self.options.quiet_s, self.options.max_wait_s)
        self.pool = JobPool(self.root, self.options.max_jobs, self.options.job_cooldown_s)
        self.syncer = (
            Syncer(self.committer.repo, self.options.remote, self.options.sync_interval_s)
            if self.options.sync
            else None
        )
        self._say = say
        self.stopping = False
        self.invalid = InvalidFiles(self.root)
        self._said: dict[str, Any] = {}
        self.commits = 0
        self.last_commit: dict[str, str] | None = None
        self.state = "starting"
        self.waiting: str | None = None
        self.left_alone = 0
        self.untrusted: list[str] = []
        self._trust_stamp: float | None = None
        self.started_at = time.time()
        self._jobs_due = True
        self._last_jobs_scan = 0.0
        self._pending_jobs = 0
        self._batches: list[dict[str, Any]] = []  # open Batch API jobs, as of the last job scan
        self._status_written = 0.0
        self._sync_wake = threading.Event()
        self._last_full_scan = time.monotonic()
        self._status_dirty = False  # something worth showing changed: write the status file at the next tick
        self._status_lock = threading.RLock()

    # ---- the two entry points ------------------------------------------------------------------------

    def run(self) -> int:
        """Watch until SIGTERM or Ctrl-C. Returns the exit code."""
        with WatcherLock(self.root) as lock:
            self._begin(lock)
            watcher = ProjectWatcher(
                self.root,
                self.debouncer,
                self.options.poll,
                self.options.poll_interval_s,
                self.recordings_dir,
            )
            watcher.start()
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
            sync_thread = self._start_sync_thread()
            try:
                self.flush(None)  # whatever changed while no watcher ran
                self.state = "watching"
                self.say(f"watching {self.root} ({self._settings()})")  # the status file first
                while not self.stopping:
                    self._step()
            finally:
                self.state = "stopping"
                self._write_status(force=True)
                for end in self.pool.stop():
                    self.say(f"job stopped: {end.job.label} ({end.message})")
                watcher.stop()
                self.flush(None)  # commit what was written up to the end, jobs' last results included
                self._sync_wake.set()
                if sync_thread:
                    sync_thread.join(timeout=30)
                    if self.syncer and self.syncer.status.state != "conflict":
                        self._sync_once()  # push the last commits before leaving
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                self.state = "stopped"
                self.say("stopped")  # the status file first
        return 0

    def once(self) -> int:
        """Process everything pending once: commit, run pending jobs to the end, commit, sync. Exit code 1
        when invalid files remain or syncing is stuck."""
        with WatcherLock(self.root) as lock:
            signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: running jobs are stopped on the way out
            self._begin(lock)
            self.flush(None)
            if self.syncer:
                self._sync_once()
            try:
                self._run_jobs_to_the_end()
            finally:
                for end in self.pool.stop():  # only after an interruption: the jobs ran to their end
                    self.say(f"job stopped: {end.job.label} ({end.message})")
            self.flush(None)
            if self.syncer:
                self._sync_once()
            self.state = "stopped"
            self._write_status(force=True)
        stuck = self.syncer is not None and self.syncer.status.state in ("conflict", "blocked")
        return 1 if self.invalid or stuck else 0

    def _run_jobs_to_the_end(self) -> None:
        """--once: run every pending job (each at most once), rescanning when one ends (it may unblock more)."""
        started: set[str] = set()
        scan = self.options.jobs
        while scan or self.pool.running:
            if scan:
                fresh = [j for j in self._trusted(pending_jobs(self.root)) if j.key not in started]
                for job in self.pool.start_pending(fresh):
                    started.add(job.key)
                    self.say(f"job started: {job.label}")
            time.sleep(TICK_S)
            scan = self._reap() > 0

    # ---- pieces --------------------------------------------------------------------------------------

    def _begin(self, lock: WatcherLock) -> None:
        if lock.previous_pid:
            self.say(f"the last watcher (pid {lock.previous_pid}) did not stop cleanly: recovering")
        for line in recover(self.root, ("tasks", self.recordings_dir)).lines():
            self.say(line)
        self._write_status(force=True)

    def _settings(self) -> str:
        o = self.options
        return (
            f"quiet {o.quiet_s:g}s, max wait {o.max_wait_s:g}s"
            + (", polling" if o.poll else "")
            + (f", sync every {o.sync_interval_s:g}s" if o.sync else "")
            + (f", up to {o.max_jobs} job(s)" if o.jobs else ", no jobs")
        )

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.stopping = True

    def _step(self) -> None:
        self.debouncer.wait(TICK_S)
        if time.monotonic() - self._last_full_scan > FULL_SCAN_EVERY_S:
            self._last_full_scan = time.monotonic()
            self.debouncer.rescan()  # a safety net: whatever no event told us about is found within minutes
        batch = self.debouncer.take()
        if batch is not None:
            self.flush(batch.paths)
        self._reap()
        if self.options.jobs:
            self._schedule_jobs()
        self._write_status()

    def flush(self, paths: list[str] | None) -> FlushResult | None:
        """Validate and commit `paths` (None: the whole project), and report what happened."""
        hints = None if paths is None else sorted(set(paths) | self.invalid.paths())
        self.state = "committing"
        try:
            result = self.committer.flush(hints)
        except KilngitError as e:
            self._say_once("error", f"could not commit yet, will retry: {e}")
            self.debouncer.add(paths) if paths is not None else self.debouncer.rescan()
            return None
        finally:
            self.state = "watching"
        self._say_once("error", None)
        self.waiting = result.waiting
        self._say_once("waiting", result.waiting)
        if result.waiting:
            self.debouncer.add(paths) if paths is not None else self.debouncer.rescan()
            return result
        self._report(result, hints)
        if result.retry:
            self.debouncer.add(result.retry)
        return result

    def _report(self, result: FlushResult, hints: list[str] | None) -> None:
        if result.commit:
            self.commits += 1
            subject = result.message.split("\n", 1)[0]
            self.last_commit = {"sha": result.commit, "subject": subject, "at": iso(time.time()) or ""}
            self.say(f"committed {result.commit[:10]} {subject} ({len(result.committed)} file(s))")
            self._jobs_due = True
            self._sync_wake.set()
        for line in self.invalid.update(result.invalid, result.valid, hints):
            self.say(line)
        self.left_alone = len(result.left_alone)
        self._say_once(
            "left_alone",
            f"left alone: {len(result.left_alone)} file(s) you staged by hand; commit them yourself"
            if result.left_alone
            else None,
        )

    def _reap(self) -> int:
        ends = self.pool.reap()
        for end in ends:
            self._jobs_due = True
            detail = f": {end.message}" if end.message else ""
            self.say(f"job {end.outcome}: {end.job.label} ({end.seconds:.0f}s){detail}")
        return len(ends)

    def _schedule_jobs(self) -> None:
        now = time.monotonic()
        if self.untrusted and (stamp := _mtime(store_file(self.root))) != self._trust_stamp:
            self._trust_stamp = stamp  # `kilngit trust` ran: look at the jobs waiting for it now
            self._jobs_due = True
        due = self._jobs_due or self.pool.cooldown_ended(self._last_jobs_scan, now)
        due = due and now - self._last_jobs_scan >= 2.0
        if not due and now - self._last_jobs_scan < self.options.jobs_interval_s:
            return
        self._jobs_due = False
        self._last_jobs_scan = now
        try:
            with commit_lock(self.root):  # never read a tree a pull is halfway through checking out
                jobs = pending_jobs(self.root)
        except KilngitError as e:
            self._say_once("jobs", f"cannot work out pending jobs: {e}")
            return
        jobs = self._trusted(jobs)
        self._pending_jobs = len(jobs)
        self._batches = batches_in_progress(self.project)
        release_memory()  # the scan loaded the project; give the memory back rather than keep the peak
        for job in self.pool.start_pending(jobs):
            self.say(f"job started: {job.label}")

    def _trusted(self, jobs: list[Job]) -> list[Job]:
        """The jobs this machine may run: none that runs project code or spends its keys (evals, queued
        requests) while something is not trusted here (`kilngit trust`)."""
        if not any(j.kind in UNTRUSTED_KINDS for j in jobs):
            return jobs
        found = review(self.root)
        untrusted = [i.path for i in found.untrusted]
        if untrusted != self.untrusted:
            self.untrusted = untrusted
            self._trust_stamp = _mtime(store_file(self.root))
            self._status_dirty = True
        if not untrusted:
            self._say_once("trust", None)
            return jobs
        skipped = [j for j in jobs if j.kind in UNTRUSTED_KINDS]
        self._say_once(
            "trust",
            "\n".join(
                [
                    f"not running {len(skipped)} job(s) ({', '.join(j.label for j in skipped[:3])}"
                    f"{', ...' if len(skipped) > 3 else ''}): {len(untrusted)} item(s) not trusted on this machine:",
                    *found.lines(limit=8),
                    f"  review and trust them: kilngit -C {self.root} trust",
                ]
            ),
        )
        return [j for j in jobs if j.kind not in UNTRUSTED_KINDS]

    def _start_sync_thread(self) -> threading.Thread | None:
        if self.syncer is None:
            return None
        thread = threading.Thread(target=self._sync_loop, name="kilngit-sync", daemon=True)
        thread.start()
        return thread

    def _sync_loop(self) -> None:
        assert self.syncer is not None
        woken = False
        while not self.stopping:
            # a new commit is pushed at once, unless the remote is in backoff or syncing stopped
            if self.syncer.due() or (woken and self.syncer.status.state in ("ok", "idle")):
                self._sync_once()
            woken = self._sync_wake.wait(timeout=TICK_S)
            self._sync_wake.clear()

    def _sync_once(self) -> None:
        assert self.syncer is not None
        try:
            st = self.syncer.sync()
        except KilngitError as e:
            self._say_once("sync", f"sync failed, will retry: {e}")
            return
        if st.pulled:
            self._jobs_due = True
            self.say(f"sync: pulled {st.pulled} commit(s) from {st.remote}/{st.branch}")
        message = f"sync {'STOPPED' if st.state == 'conflict' else st.state}: {st.message}"
        self._say_once("sync", None if st.state == "ok" and "up to date" in st.message else message)

    # ---- output --------------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        # The status file first: whoever reads a line (a script waiting for "watching", a test) finds the
        # status file saying as much already.
        self._write_status(force=True)
        self._say(f"{datetime.datetime.now().strftime('%H:%M:%S')} {line}")

    def _say_once(self, topic: str, line: str | None) -> None:
        """Say `line` unless it is what was last said on `topic` (None clears the topic)."""
        if line is not None and self._said.get(topic) != line:
            self.say(line)
        self._said[topic] = line

    def _write_status(self, force: bool = False) -> None:
        with self._status_lock:  # the sync thread says things too: one write at a time, the latest last
            self._write_status_now(force)

    def _write_status_now(self, force: bool) -> None:
        now = time.time()
        if not (force or self._status_dirty) and now - self._status_written < STATUS_EVERY_S:
            return
        self._status_written = now
        self._status_dirty = False
        sync = None
        if self.syncer:
            st = self.syncer.status
            sync = asdict(st)
            sync["next_try_at"] = iso(st.next_try_at)
            sync["last_sync_at"] = iso(st.last_sync_at)
        write_json(
            status_path(self.root),
            {
                "pid": os.getpid(),
                "state": self.state,
                "started_at": iso(self.started_at),
                "updated_at": iso(now),
                "root": str(self.root),
                "options": asdict(self.options),
                "pending": self.debouncer.pending,
                "waiting": self.waiting,
                "commits": self.commits,
                "last_commit": self.last_commit,
                "invalid": len(self.invalid),
                "left_alone": self.left_alone,
                "untrusted": self.untrusted,
                "jobs": {
                    "running": self.pool.describe(),
                    "pending": self._pending_jobs,
                    "finished": self.pool.finished,
                },
                "batches": self._batches,
                "sync": sync,
            },
        )


#: Jobs that run project code or spend this machine's keys: they wait for trust (a fine-tune refresh does not).
UNTRUSTED_KINDS = ("eval", "request", "batch")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
