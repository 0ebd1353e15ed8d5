"""Crash-safe import of a new task: its files are written into a hidden folder beside it
(`tasks/.import-<pid>-<task>`, skipped by every reader like any hidden file) and the folder is renamed into
place once whole and synced. A kill at any moment leaves either no task or the whole task, so the project
is valid throughout; the hidden folder of a killed import is removed by the next kilngit command
(`kilngit._temps`), and the re-run writes the task again, byte for byte.

A task that exists already gets its new files in place, referred-to files first (see the importer)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kilngit._io import fsync_folder
from kilngit._temps import STAGE_PREFIX


@dataclass
class Stage:
    """Where an import writes the files of one task: in place (folder None) or under a hidden folder."""

    root: Path
    task: str
    folder: Path | None = None

    def path(self, relpath: str) -> Path:
        if self.folder is None:
            return self.root / relpath
        prefix = f"tasks/{self.task}/"
        assert relpath.startswith(prefix), relpath
        return self.folder / relpath[len(prefix) :]


@contextlib.contextmanager
def staged_task(root: Path, task: str) -> Iterator[Stage]:
    """A `Stage` for `task`: staged when the task folder does not exist yet, moved into place on success."""
    final = root / "tasks" / task
    if final.exists():
        yield Stage(root, task)
        return
    folder = root / "tasks" / f"{STAGE_PREFIX}{os.getpid()}-{task}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield Stage(root, task, folder)
        os.sync()
        os.rename(folder, final)
        fsync_folder(final.parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
