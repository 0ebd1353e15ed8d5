"""Which of a task's run, annotation and judge-result files changed since its cached rows were stored
(`kilngit.cache.views`): git's answer (`kilngit.cache.index`) when it can tell, else a walk of the folders
with every file's key compared with the stored one.

    changed, gone, known, state = changes(db, project, task, evals, stored_state)
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from kilngit.cache.index import IndexState, sync
from kilngit.cache.keys import RACY, take_stamp, trusted_key
from kilngit.cache.store import CACHE_DIR, rows_in
from kilngit.kinds import KINDS
from kilngit.project import Project


def changes(
    db: sqlite3.Connection, project: Project, task: str, evals: Iterable[str], stored: str | None
) -> tuple[dict[str, tuple[str, str]], list[str], dict[str, tuple[str, str | None]], str | None]:
    """What changed among the task's run, annotation and judge-result files since the rows were stored:
    (relpath -> (kind, key) of files to read again, relpaths of files gone, relpath -> (stored key, run)
    of those that had rows, the file index's state to store with the rows). The one place that finds
    changes: asks git (`kilngit.cache.index`) when it can tell, else walks the folders and compares keys."""
    index = sync(project.root)
    shapes = _shapes(project, task, evals)
    old = IndexState.decode(stored) if index is not None and stored else None
    named = index.changed_since(old) if index is not None and old is not None else None
    state = index.state.encode() if index is not None else None
    if named is None:
        files = _listed_files(project, shapes)
        known = {
            p: (k, r) for p, k, r in db.execute("SELECT path, key, run FROM files WHERE task = ?", (task,))
        }
        changed = {p: v for p, v in files.items() if v[1] == RACY or known.get(p, ("",))[0] != v[1]}
        return changed, [p for p in known if p not in files], known, state
    stamp = take_stamp(project.root / CACHE_DIR)
    changed, gone = {}, []
    for relpath in sorted(named):
        kind = _kind_of(shapes, relpath)
        if kind is None:
            continue
        key = _key(project.root, relpath, stamp)
        if key is None:
            gone.append(relpath)
        else:
            changed[relpath] = (kind, key)
    known = {
        p: (k, r)
        for p, k, r in rows_in(db, "SELECT path, key, run FROM files WHERE path IN ({})", [*changed, *gone])
    }
    return changed, [p for p in gone if p in known], known, state


Shape = tuple[str, dict[str, str], list[str]]


def _shapes(project: Project, task: str, evals: Iterable[str]) -> list[Shape]:
    """(kind, path steps) of the task's bulk listings, as `Project.candidates` follows them (a step with
    NUL is any name; the last one, any name with that suffix)."""
    blank = "\x00"
    scopes = [("task_run", {"task": task}), ("annotation", {"task": task})]
    scopes += [("judge_result", {"task": task, "eval": e}) for e in evals]
    out = []
    for kind, scope in scopes:
        k = KINDS[kind]
        parts = {**scope, **{p: blank * 64 for p in k.parts if p not in scope}}
        steps = re.sub(f"{blank}+", blank, k.fill(parts, project.layout_version)).split("/")
        out.append((kind, scope, steps))
    return out


def _kind_of(shapes: list[Shape], relpath: str) -> str | None:
    """The kind of listing `relpath` is in (None: in none of them)."""
    names = relpath.split("/")
    for kind, _, steps in shapes:
        if len(names) == len(steps) and all(
            _fits(n, s, i == len(steps) - 1) for i, (n, s) in enumerate(zip(names, steps, strict=True))
        ):
            return kind
    return None


def _fits(name: str, step: str, last: bool) -> bool:
    if "\x00" not in step:
        return name == step
    if name.startswith("."):
        return False
    suffix = step[step.rindex("\x00") + 1 :]
    return not last or (name.endswith(suffix) and name.count(".") == suffix.count("."))


def _listed_files(project: Project, shapes: list[Shape]) -> dict[str, tuple[str, str]]:
    """relpath -> (kind, key) of every file of the listings (`RACY`: changed too recently to be trusted)."""
    stamp = take_stamp(project.root / CACHE_DIR)
    out: dict[str, tuple[str, str]] = {}
    for kind, scope, _ in shapes:
        for relpath in project.candidates(KINDS[kind], scope):
            key = _key(project.root, relpath, stamp)
            if key is not None:
                out[relpath] = (kind, key)
    return out


def _key(root: Path, relpath: str, stamp: int) -> str | None:
    try:
        key = trusted_key(os.lstat(os.path.join(root, relpath)), stamp)
    except OSError:
        return None
    return key if key is not None else RACY
