"""File events from watchdog (inotify on Linux, FSEvents on macOS, or polling for network mounts), filtered and
handed to a `Debouncer` as project-relative paths.

Only what kilngit commits is watched: the project root itself (not recursively: `kilngit.yaml`, new top-level
folders), `tasks/` and the recordings folder. `.git` and `.kilngit` are never watched, so the watcher's own
commits and status writes do not wake it up. Editor temp and swap files are dropped here. When the kernel's
event queue overflows, events were lost: the debouncer is told to rescan the whole project.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from kilngit import layout
from kilngit.sync.debounce import Debouncer

#: Events that do not change a file (reading it, or closing it unwritten): our own validation makes these.
_READ_ONLY = frozenset({"opened", "closed_no_write"})
_SKIP_DIRS = frozenset({".git", layout.LOCAL_STATE})


def is_ignored(relpath: str) -> bool:
    """Paths the watcher never acts on: git's and kilngit's own folders, editor swap/backup/temp files
    (vim .swp/.swx and its `4913` write test, emacs `.#x` and `#x#`, `x~`), and the `.x.123.tmp` temp
    files of atomic writes (the rename that completes such a write is seen under the final name)."""
    parts = relpath.split("/")
    if parts[0] in _SKIP_DIRS or ".git" in parts:
        return True
    name = parts[-1]
    return (
        name.endswith((".swp", ".swx", ".swo", ".swn", "~", ".tmp", ".part", ".crdownload"))
        or name == "4913"
        or name.startswith(".#")
        or (name.startswith("#") and name.endswith("#"))
        or name == ".DS_Store"
    )


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: ProjectWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _READ_ONLY or (event.is_directory and event.event_type == "modified"):
            return
        paths = [event.src_path, *([event.dest_path] if getattr(event, "dest_path", "") else [])]
        self.watcher.notice([os.fsdecode(p) for p in paths], event.is_directory)


class _OverflowSignal(logging.Handler):
    """watchdog reports a kernel queue overflow only as a log warning: turn it into a rescan."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class ProjectWatcher:
    """Watches a project and feeds `debouncer`. `start()` / `stop()`."""

    def __init__(
        self,
        root: str | Path,
        debouncer: Debouncer,
        poll: bool = False,
        poll_interval_s: float = 1.0,
        recordings_dir: str = "recordings",
    ) -> None:
        self.root = Path(root).absolute()
        self.debouncer = debouncer
        self.scoped = ("tasks", recordings_dir.strip("/"))
        self.overflows = 0
        if poll:
            self.observer: BaseObserver = PollingObserverVFS(
                os.stat, _scandir_skipping_git, polling_interval=poll_interval_s
            )
        else:
            self.observer = Observer()
        self._handler = _Handler(self)
        self._watched: set[str] = set()
        self._overflow = _OverflowSignal(self._on_overflow)

    def start(self) -> None:
        # watchdog warns (with a huge message) when a folder created during a burst is watched twice; harmless
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning)
        self.observer.schedule(self._handler, str(self.root), recursive=False)
        for name in self.scoped:
            self._watch_folder(name)
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logging.getLogger(name).addHandler(self._overflow)
        self.observer.start()

    def stop(self) -> None:
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logging.getLogger(name).removeHandler(self._overflow)
        self.observer.stop()
        self.observer.join(timeout=5)

    def _watch_folder(self, name: str) -> None:
        folder = self.root / name
        if name not in self._watched and folder.is_dir():
            self.observer.schedule(self._handler, str(folder), recursive=True)
            self._watched.add(name)

    def _on_overflow(self) -> None:
        self.overflows += 1
        self.debouncer.rescan()

    def notice(self, paths: list[str], is_directory: bool) -> None:
        """Turn absolute event paths into project-relative ones and pass the ones that matter on."""
        out = []
        for path in paths:
            try:
                rel = Path(path).relative_to(self.root).as_posix()
            except ValueError:
                continue
            if rel == "." or is_ignored(rel):
                continue
            if is_directory and rel in self.scoped and rel not in self._watched:
                self._watch_folder(rel)  # e.g. the recordings folder appeared: watch inside it from now on
            out.append(rel)
        self.debouncer.add(out)


def _scandir_skipping_git(path: str | None) -> Iterator[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return iter([e for e in it if e.name not in _SKIP_DIRS])
