"""Locks under the project's local state folder (`.kilngit/`).

* `WatcherLock`: one `kilngit watch` per project. An OS lock (flock) held for the life of the process, with
  the pid written inside for messages. The kernel drops the lock when its process dies, however it dies,
  so a lock left by a killed watcher is simply taken over (and reported, so recovery knows to run).
* `commit_lock`: held around every commit and index write made by kilngit (the watcher, and any other
  kilngit command that commits), so two kilngit processes never build commits at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kilngit import layout
from kilngit.errors import KilngitError
from kilngit.joblock import closed_in_children

WATCH_DIR = "watch"


def watch_dir(root: str | Path) -> Path:
    """The watcher's local state folder (`.kilngit/watch/`), created when missing."""
    folder = Path(root) / layout.LOCAL_STATE / WATCH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class WatcherRunningError(KilngitError):
    """Another watcher already watches this project."""


@dataclass
class WatcherLock:
    """The one-watcher-per-project lock. `acquire()` raises `WatcherRunningError` when it is held."""

    root: Path
    previous_pid: int | None = None
    """Pid found in a lock file whose process was gone: the last watcher died without cleaning up."""
    _fd: int | None = None

    @property
    def path(self) -> Path:
        return watch_dir(self.root) / "watch.lock"

    def acquire(self) -> WatcherLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise WatcherRunningError(
                f"a watcher is already running for this project (pid {pid or 'unknown'})",
                "see what it does with `kilngit watch --status`; stop it with `kill "
                f"{pid or 'PID'}` before starting another",
            ) from None
        old = _read_pid(fd)
        if old and old != os.getpid():
            self.previous_pid = old  # held no lock, so its process is gone: it died without cleaning up
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        closed_in_children(fd)  # a forked pool worker must not keep it held after a kill -9 of the watcher
        return self

    def release(self) -> None:
        """Release the lock and empty the pid (a clean exit leaves no pid behind)."""
        if self._fd is None:
            return
        closed_in_children(self._fd, held=False)
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WatcherLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_watcher_pid(root: str | Path) -> int | None:
    """The pid of the watcher running for this project, or None when none is."""
    path = Path(root) / layout.LOCAL_STATE / WATCH_DIR / "watch.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


_THREAD_LOCKS: dict[Path, threading.Lock] = {}


@contextlib.contextmanager
def commit_lock(root: str | Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the project's commit lock: every kilngit process that writes the git index or commits takes it.

    Threads of one process are serialized too (flock alone is per open file, not per thread)."""
    path = Path(root).absolute() / layout.LOCAL_STATE / "commit.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    thread_lock = _THREAD_LOCKS.setdefault(path, threading.Lock())
    if not thread_lock.acquire(timeout=timeout_s):
        raise KilngitError("timed out waiting for another kilngit commit in this process", "try again")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise KilngitError(
                            f"another kilngit process has been committing for {timeout_s:g}s",
                            f"check for a stuck kilngit process ({path})",
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing drops the flock
    finally:
        thread_lock.release()
