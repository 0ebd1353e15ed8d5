"""Seeing changes others make on disk (git pull, the watcher, a teammate's labels) without a restart.

Every write kilngit makes is a rename into a folder, and git checks files out by unlinking and creating
them, so each changes the modification time of the folder holding the file. Before each request the server
stats the record folders (the collection and its shard folders, as deep as the project's layout puts them:
up to 256 x 256 leaf folders in layout 2), never the files, and tells the `Project` to forget the cached reads
of the collections whose folders changed. Definitions are few and are statted one by one. The cost grows
with the folders: at 100k runs in layout 2 (about 65,000 leaf folders) a check took 0.4 s on a busy 2-core
machine, against about a millisecond with one shard level; watching for events instead would remove it.

A file rewritten in place (not renamed) leaves its folder's time alone; kilngit never writes that way.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from kilngit import layout
from kilngit.kinds import KINDS
from kilngit.project import Project

#: Collections of machine and owned records: group -> (kind, folder under tasks/<task>/ or the eval).
_COLLECTIONS = {"runs": ("task_run", "runs"), "annotations": ("annotation", "annotations")}
_DEFINITION_DIRS = ("prompts", "run_configs", "splits", "finetunes")

Snapshot = dict[str, int]
"""Relative path -> modification time (ns)."""


class Freshness:
    """Compares the record folders with what was seen before, and makes the project forget what changed."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.seen: dict[tuple[str, ...], Snapshot] = self.scan()

    def scan(self) -> dict[tuple[str, ...], Snapshot]:
        """Modification times by group: ("definitions",), ("runs", task), ("annotations", task),
        ("results", task, eval)."""
        root = self.project.root
        out: dict[tuple[str, ...], Snapshot] = {("definitions",): _times(root, [layout.MANIFEST, "tasks"])}
        defs = out[("definitions",)]
        for task in _names(root / "tasks"):
            base = f"tasks/{task}"
            defs.update(_times(root, [base, layout.task_file(task), f"{base}/evals"]))
            for folder in _DEFINITION_DIRS:
                defs.update(_tree(root, f"{base}/{folder}", 2, files=True))
            for what, (kind, folder) in _COLLECTIONS.items():
                out[(what, task)] = _tree(root, f"{base}/{folder}", self._depth(kind, folder) - 1)
            for ev in _names(root / base / "evals"):
                edir = layout.eval_dir(task, ev)
                defs.update(_times(root, [edir, layout.eval_file(task, ev)]))
                defs.update(_tree(root, f"{edir}/judges", 1, files=True))
                out[("results", task, ev)] = _tree(
                    root, f"{edir}/results", self._depth("judge_result", "results") - 1
                )
        return out

    def _depth(self, kind: str, folder: str) -> int:
        """How many levels below its collection's folder a kind's files sit, in the project's layout."""
        template = KINDS[kind].template(self.project.layout_version)
        return template.split(f"/{folder}/", 1)[1].count("/") + 1

    def check(self) -> list[tuple[str, ...]]:
        """Forget the cached reads of every group that changed since the last check; returns those groups."""
        now = self.scan()
        changed = [group for group in now.keys() | self.seen.keys() if now.get(group) != self.seen.get(group)]
        for group in changed:
            if group[0] == "definitions":
                self.project.forget("definitions")
            else:
                self.project.forget(*group)
        self.seen = now
        return changed

    def absorb(self, relpath: str) -> None:
        """Take in a change this process just made through the `Project` (whose cache is already up to date),
        so the next check does not reload the collection: re-stat the folders from the file up to its
        collection."""
        located = layout.classify(relpath)
        if located is None or located.kind not in ("annotation", "task_run"):
            return
        task = located.params["task"]
        what = "annotations" if located.kind == "annotation" else "runs"
        group = self.seen.setdefault((what, task), {})
        top = f"tasks/{task}/{_COLLECTIONS[what][1]}"
        folder = relpath.rsplit("/", 1)[0]
        while True:
            try:
                group[folder] = os.stat(self.project.root / folder).st_mtime_ns
            except FileNotFoundError:
                group.pop(folder, None)
            if folder == top or "/" not in folder:
                break
            folder = folder.rsplit("/", 1)[0]


def _names(folder: Path) -> list[str]:
    try:
        return sorted(
            e.name
            for e in os.scandir(folder)
            if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _times(root: Path, relpaths: list[str]) -> Snapshot:
    out = {}
    for rel in relpaths:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            out[rel] = os.stat(root / rel).st_mtime_ns
    return out


def _tree(root: Path, reldir: str, depth: int, files: bool = False) -> Snapshot:
    """The times of `reldir` and the folders `depth` levels below it (and, with `files`, the files too)."""
    out = _times(root, [reldir])
    if not out or depth <= 0:
        return out
    try:
        entries = list(os.scandir(root / reldir))
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = f"{reldir}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if depth > 1:
                out.update(_tree(root, rel, depth - 1, files))
            else:
                out[rel] = entry.stat(follow_symlinks=False).st_mtime_ns
        elif files:
            out[rel] = entry.stat(follow_symlinks=False).st_mtime_ns
    return out
