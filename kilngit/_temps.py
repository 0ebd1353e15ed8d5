"""Internal: temp files of atomic writes, and sweeping the ones a killed writer left behind.

`atomic_write` names its temp file `.<name>.<pid>-<random>.tmp` beside the target, with the pid of the
process writing it. A temp file is stale when that process is gone (kill -9, OOM killer), or when it is
older than any write could take (`STALE_ANY_S`: pids are reused); temp files from older kilngit versions,
without a pid, are stale after `STALE_UNNAMED_S`.

Two sweeps, both cheap when nothing crashed:

* the first write of a process into a folder sweeps that folder (so the next command or watcher writing
  there removes what a crash left);
* bulk writers (`run task`, `run eval`, `import kiln`) register themselves in `.kilngit/writers/<pid>` for
  the length of the batch; the next kilngit command that finds a marker of a dead process sweeps the
  project's record folders once and removes the marker.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

STAGE_PREFIX = ".import-"
STAGE_RE = re.compile(r"^\.import-(?P<pid>[1-9][0-9]{0,9})-")
"""Hidden folders an import stages a new task in (`kilngit.kiln.staging`), named with the importer's pid."""
TEMP_RE = re.compile(r"^\..+\.(?:(?P<pid>[1-9][0-9]{0,9})-)?[A-Za-z0-9_]{6,}\.tmp$")
STALE_ANY_S = 3600.0
STALE_UNNAMED_S = 60.0
WRITERS_DIR = ".kilngit/writers"
SWEPT_FOLDERS = ("tasks", "recordings", ".kilngit")

_swept: set[str] = set()
"""Folders this process has already swept (each is swept once, at its first write)."""


def temp_name(folder: str, name: str) -> str:
    """The temp file `atomic_write` uses for `folder/name`."""
    return os.path.join(folder, f".{name}.{os.getpid()}-{os.urandom(5).hex()}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, killed but not yet reaped, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True  # no /proc (macOS): the signal check is all there is


def is_stale(name: str, mtime: float, now: float) -> bool:
    """Whether a file named `name`, last modified at `mtime`, is a temp file no live writer will finish."""
    m = TEMP_RE.match(name)
    if m is None:
        return False
    age = now - mtime
    if m["pid"] is None:
        return age > STALE_UNNAMED_S
    return age > STALE_ANY_S or not pid_alive(int(m["pid"]))


def sweep_folder(folder: str, recursive: bool = False) -> list[str]:
    """Remove the stale temp files in `folder` (and its subfolders); return their paths."""
    removed: list[str] = []
    now = time.time()
    stack = [folder]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and (m := STAGE_RE.match(entry.name)):
                    if not pid_alive(int(m["pid"])):
                        shutil.rmtree(entry.path, ignore_errors=True)
                        removed.append(entry.path)
                elif recursive and entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.name.endswith(".tmp") and entry.name.startswith("."):
                    with contextlib.suppress(FileNotFoundError):
                        if is_stale(entry.name, entry.stat(follow_symlinks=False).st_mtime, now):
                            os.unlink(entry.path)
                            removed.append(entry.path)
    return removed


def sweep_once(folder: str) -> None:
    """Sweep `folder` the first time this process writes into it."""
    if folder not in _swept:
        _swept.add(folder)
        sweep_folder(folder)


@contextlib.contextmanager
def bulk_writing(root: str | Path) -> Iterator[None]:
    """Mark the project as being written by this process for the length of the block, so that if it is
    killed, the next kilngit command sweeps what it left (`sweep_after_crash`)."""
    marker = os.path.join(root, WRITERS_DIR, str(os.getpid()))
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "wb"):
        pass
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker)


def sweep_after_crash(root: str | Path) -> list[str]:
    """If a bulk writer was killed mid-batch, remove the temp files it (and its writer processes) left in
    the project; returns the paths removed. One folder listing when nothing crashed."""
    folder = os.path.join(root, WRITERS_DIR)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    dead = [n for n in names if n.isdigit() and not pid_alive(int(n))]
    if not dead:
        return []
    removed = sweep_project(root)
    for name in dead:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, name))
    return removed


def sweep_project(root: str | Path, folders: tuple[str, ...] = SWEPT_FOLDERS) -> list[str]:
    """Remove stale temp files anywhere under the project's record, recording and local-state folders."""
    return [p for f in folders for p in sweep_folder(os.path.join(root, f), recursive=True)]
