"""Fixtures for watcher tests: the real `kilngit watch` process on temp repos, with a bare remote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Annotation, Rating, Source, TaskRun
from tests.conftest import git

#: Short windows so tests run fast; the same settings a user passes with --quiet / --max-wait.
FAST = {
    "KILNGIT_WATCH_QUIET": "0.3",
    "KILNGIT_WATCH_MAX_WAIT": "2",
    "KILNGIT_WATCH_SYNC_INTERVAL": "0.3",
    "KILNGIT_WATCH_JOB_COOLDOWN": "0.5",
}

#: The limit of every wait here: generous, because it only guards a hang (each wait returns as soon as its
#: condition holds) and CI machines are busy.
HANG_S = 180.0


def wait_for(check: Callable[[], object], timeout: float = HANG_S, what: str = "condition") -> object:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds (a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class WatchProcess:
    """A `python -m kilngit -C ROOT watch ...` child process whose output goes to a log file."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.log_path = root.parent / f"watch-{root.name}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop/kill)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kilngit", "-C", str(root), "watch", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAST},
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_output(self, text: str, timeout: float = HANG_S) -> None:  # a hang guard: returns on the text
        wait_for(
            lambda: text in self.output or self.process.poll() is not None, timeout, f"{text!r} in output"
        )
        assert text in self.output, (
            f"watcher exited ({self.process.returncode}) without {text!r}:\n{self.output}"
        )

    def stop(self, timeout: float = HANG_S) -> int:
        """SIGTERM, then wait for a clean exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no cleanup at all
        self.process.wait()
        self._log.close()


@pytest.fixture
def watchers() -> Iterator[Callable[..., WatchProcess]]:
    """Start watchers with `start(root, *args)` (waiting until they watch); all are stopped at the end."""
    started: list[WatchProcess] = []

    def start(root: Path, *args: str, ready: bool = True) -> WatchProcess:
        w = WatchProcess(root, *args)
        started.append(w)
        if ready:
            w.wait_output("watching ")
        return w

    yield start
    for w in started:
        if w.process.poll() is None:
            w.kill()


@pytest.fixture
def remote(project: Project, tmp_path: Path) -> Path:
    """A bare repository holding the project's first commit, set as the project's upstream `origin`."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(project.root, "branch", "-M", "main")
    git(project.root, "remote", "add", "origin", str(bare))
    git(project.root, "push", "-q", "-u", "origin", "main")
    return bare


def clone(remote: Path, dest: Path) -> Project:
    git(remote.parent, "clone", "-q", str(remote), str(dest))
    return Project(dest)


def commits(root: Path, rev: str = "HEAD") -> list[str]:
    return git(root, "log", "--format=%s", rev).splitlines()


def wait_commits(root: Path, n: int, what: str = "the watcher's commit") -> None:
    """Wait until HEAD has `n` commits and the watcher has brought the index in line (nothing dirty)."""
    wait_for(lambda: len(commits(root)) == n and not dirty(root), what=what)


def committed_files(root: Path, rev: str = "HEAD") -> set[str]:
    return set(git(root, "ls-tree", "-r", "--name-only", rev).splitlines())


def dirty(root: Path) -> list[str]:
    """`git status --porcelain` lines for files under tasks/ (hidden ones, like editor swap files, left out)."""
    lines = git(root, "status", "--porcelain", "--untracked-files=all", "--", "tasks").splitlines()
    return [line for line in lines if line.strip() and not line.rsplit("/", 1)[-1].startswith(".")]


def make_run(text: str, task: str = "ffmpeg", output: str | None = "ffmpeg -i a.mp4 a.webm") -> TaskRun:
    src = Source(type="human", created_by="alice@example.com")
    return TaskRun(
        task=task,
        input=text,
        input_source=src,
        output=output,  # type: ignore[return-value]
        output_source=src if output is not None else None,
    ).with_id()


def make_annotation(run: TaskRun, rater: str = "alice@example.com", value: float = 1.0) -> Annotation:
    return Annotation(task=run.task, run=run.id, rater=rater, rating=Rating(type="pass_fail", value=value))


def write_bytes_fast(root: Path, records: list) -> list[str]:  # type: ignore[type-arg]
    """Write records at their paths without fsync (a burst as fast as a script makes one)."""
    paths = []
    for record in records:
        rel = layout.record_path(record)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.to_bytes())
        paths.append(rel)
    return paths


def commit_by_hand(root: Path, records: list, message: str = "by hand") -> None:  # type: ignore[type-arg]
    """Write records and commit them the way a person would (before a watcher starts)."""
    write_bytes_fast(root, records)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
