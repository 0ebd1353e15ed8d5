"""Getting a project back into shape when a watcher starts, whatever stopped the last one (even kill -9).

* a rebase the watcher had started is aborted (HEAD, index and files go back to how they were before it);
* a commit whose index refresh did not happen is finished (the committer's journal);
* temp files of atomic writes that a killed process left behind are removed (only old ones: another kilngit
  command may be writing right now), and job logs older than a week;
* everything else needs no special step: uncommitted valid changes are found by the first full scan and
  pending jobs are derived from the files.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from kilngit import layout
from kilngit.sync.lock import WATCH_DIR
from kilngit.sync.syncer import abort_our_rebase

#: `kilngit._io.atomic_write` names its temp files `.<name>.<random>.tmp` beside the target.
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")
STALE_TEMP_S = 60.0
OLD_JOB_LOG_S = 7 * 24 * 3600.0


@dataclass
class Recovery:
    """What recovery did, for the terminal."""

    rebase_aborted: bool = False
    temp_files_removed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        if self.rebase_aborted:
            out.append("recovered: aborted a rebase the last watcher left half done (nothing lost)")
        if self.temp_files_removed:
            out.append(f"recovered: removed {len(self.temp_files_removed)} temp file(s) of interrupted writes")
        return out


def recover(root: str | Path, folders: tuple[str, ...] = ("tasks", "recordings")) -> Recovery:
    """Undo or finish what an interrupted watcher (or kilngit command) left half done."""
    root = Path(root)
    done = Recovery(rebase_aborted=abort_our_rebase(root))
    cutoff = time.time() - STALE_TEMP_S
    for folder in folders:
        for path in _temp_files(root / folder):
            try:
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    done.temp_files_removed.append(Path(path).relative_to(root).as_posix())
            except FileNotFoundError:
                pass
    for log in (root / layout.LOCAL_STATE / WATCH_DIR / "jobs").glob("*.log"):
        with contextlib.suppress(FileNotFoundError):
            if log.stat().st_mtime < time.time() - OLD_JOB_LOG_S:
                log.unlink()
    return done


def _temp_files(folder: Path) -> list[str]:
    out = []
    stack = [str(folder)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif _TEMP.match(entry.name):
                    out.append(entry.path)
    return out
