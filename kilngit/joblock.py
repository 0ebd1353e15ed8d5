"""One job per piece of work at a time, across processes and watchers.

Two `run task` of the same (task, run config), or two `run eval` of the same (eval, judge), would each
derive the same work left from the files and both do it: 100 inputs, 199 runs. So each takes the lock of
its work first (an OS lock, flock, on a file under `.kilngit/locks/`) and derives the work left only once it
holds it; the second waits, then finds the work done.

The stale-lock rule is the kernel's: a flock is dropped when its process dies, however it dies (kill -9
included), so a lock is never left held by a dead process and never needs breaking by hand.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from kilngit import layout

LOCKS_DIR = "locks"

#: Lock fds this process holds. A forked child (a process pool's worker, say) shares each flock with its
#: parent until it closes its copy: it would keep the lock held after a kill -9 of the parent, and every
#: later job would wait for it forever. So every fork closes them in the child.
_HELD: set[int] = set()


def _drop_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_drop_in_child)


def closed_in_children(fd: int, held: bool = True) -> None:
    """Count a lock fd of another kind (the watcher's) among those every fork closes in the child, or
    (`held=False`) no longer."""
    if held:
        _HELD.add(fd)
    else:
        _HELD.discard(fd)


def _lock_path(root: Path, key: str) -> Path:
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:80]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]  # distinct keys never share a file
    return root / layout.LOCAL_STATE / LOCKS_DIR / f"{name}.{digest}.lock"


@contextlib.contextmanager
def job_locks(root: str | Path, keys: Iterable[str]) -> Iterator[bool]:
    """Hold the locks of `keys` (e.g. "run task ffmpeg/fast"), waiting while another process holds one.
    Yields True when it had to wait: the caller must then re-read the files that process wrote."""
    root = Path(root)
    waited = False
    fds: list[int] = []
    try:
        for key in sorted(set(keys)):  # one order for everyone: no deadlock between two multi-lock jobs
            path = _lock_path(root, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            fds.append(fd)
            _HELD.add(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").split(" ")[0] or "unknown"
                sys.stderr.write(f"waiting for another kilngit process (pid {holder}) doing {key}\n")
                fcntl.flock(fd, fcntl.LOCK_EX)
                waited = True
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {key}\n".encode(), 0)
        yield waited
    finally:
        for fd in fds:
            _HELD.discard(fd)
            os.close(fd)  # closing drops the flock


def busy(root: str | Path, key: str) -> bool:
    """Whether another process holds the lock of `key` now (a look, not a wait)."""
    path = _lock_path(Path(root), key)
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def die_with_parent(parent: int, sig: int = signal.SIGINT) -> None:
    """Ask the kernel to send `sig` to this process when `parent` dies (Linux; elsewhere the job locks still
    keep an orphan and a new job from doing the same work twice). Exits at once if `parent` is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)
