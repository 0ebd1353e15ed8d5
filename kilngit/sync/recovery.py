"""Getting a project back into shape when a watcher starts, whatever stopped the last one (even kill -9).

* a rebase the watcher had started is aborted (HEAD, index and files go back to how they were before it);
* a commit whose index refresh did not happen is finished (the committer's journal);
* temp files of atomic writes that a killed process left behind are removed (only those whose writer is
  gone: another kilngit command may be writing right now), in the record folders and in `.kilngit/` (the
  killed watcher's own status file), and job logs older than a week;
* everything else needs no special step: uncommitted valid changes are found by the first full scan and
  pending jobs are derived from the files.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from kilngit import layout
from kilngit._temps import sweep_project
from kilngit.sync.lock import WATCH_DIR
from kilngit.sync.syncer import abort_our_rebase

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
            out.append(
                f"recovered: removed {len(self.temp_files_removed)} temp file(s) of interrupted writes"
            )
        return out


def recover(root: str | Path, folders: tuple[str, ...] = ("tasks", "recordings")) -> Recovery:
    """Undo or finish what an interrupted watcher (or kilngit command) left half done."""
    root = Path(root)
    done = Recovery(rebase_aborted=abort_our_rebase(root))
    for path in sweep_project(root, (*folders, layout.LOCAL_STATE)):
        done.temp_files_removed.append(Path(path).relative_to(root).as_posix())
    for log in (root / layout.LOCAL_STATE / WATCH_DIR / "jobs").glob("*.log"):
        with contextlib.suppress(FileNotFoundError):
            if log.stat().st_mtime < time.time() - OLD_JOB_LOG_S:
                log.unlink()
    return done
