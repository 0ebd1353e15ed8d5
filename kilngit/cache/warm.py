"""`validate`'s report when nothing changed since the last one, from git and the snapshot's tables alone.

A whole-project `validate` (`cache.snapshot`) stores its report as of a git state. When git says no file
changed since that state (and none was left pending), that report is the answer: this module gives it with
`sqlite3` and git only, so a clean warm `validate` imports neither the checks nor the record models (most
of its start-up). It answers None -- the caller then takes the usual path, which reads what changed --
whenever anything differs or is unusual: no snapshot, a changed file, a pending one, another kilngit's
code or layout (`seal`), a copied or symlinked cache, a locked or corrupt database.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sqlite3
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from kilngit.cache import early, index
from kilngit.cache.code import CHECKS, code_digest
from kilngit.problems import Problem
from kilngit.validation_report import ValidationReport

DB = (index.LOCAL_STATE, "cache", "files.sqlite")  # `store.CACHE_DIR` / `store.DB_NAME`, spelled out
# The code whose change can change a report: what `store.code_fingerprint` hashes, and more.
_CODE = (*CHECKS, "validation_report.py", "cache/store.py", "cache/warm.py")


# What checking a changed file imports, in order: imported while `git status` runs (unless git is done
# first), so that its answer, most of a warm validate, costs no extra time either way.
_CHECKS = (
    "pydantic",
    "kilngit.records",
    "kilngit.kinds",
    "kilngit.load",
    "kilngit.project",
    "kilngit.validate",
)
# Then the record models' validators, which pydantic builds on a model's first use (`defer_build`): the
# manifest's and the task's (every check reads them), then the bulk kinds' (what an edit usually touches).
# The first build also scans the installed packages for pydantic plugins.
_MODELS = ("ProjectManifest", "Task", "Annotation", "TaskRun", "JudgeResult")


def report_if_unchanged(folder: Path, start: float) -> ValidationReport | None:
    """The whole-project report of the project `folder` is in, when git says nothing changed since the last
    one, else None (then check as usual: git's answer is kept for it inside `index.one_sync`). Meanwhile the
    checks are imported, so that the usual path loses no time. `start`: when the command began."""
    root = early.project_root(folder)
    if root is None:
        return None
    index.prefetch(root)
    early.while_git_runs(root, _steps())
    found = unchanged(root)
    if found is None:
        return None
    files, kinds, problems = found
    return ValidationReport(files=files, kinds=kinds, problems=problems, seconds=time.perf_counter() - start)


def _steps() -> Iterator[Callable[[], object]]:
    """What the usual path would do first, in order, each step done only while git still runs."""
    for name in _CHECKS:
        yield functools.partial(importlib.import_module, name)
    records = sys.modules["kilngit.records"]
    for model in _MODELS:
        yield getattr(records, model).model_rebuild


def unchanged(root: Path) -> tuple[int, Counter[str], list[Problem]] | None:
    """(files, kinds, problems) of the last whole-project `validate` at `root` when git says nothing
    changed since, else None (see the module)."""
    found = index.sync(root)
    db_path = _db_path(root)
    if found is None or db_path is None:
        return None
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1.0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        return _unchanged(db, root, found)
    except (sqlite3.Error, ValueError, KeyError, TypeError):
        return None  # locked, corrupt or foreign: the usual path deals with it
    finally:
        db.close()


def _unchanged(
    db: sqlite3.Connection, root: Path, found: index.FileIndex
) -> tuple[int, Counter[str], list[Problem]] | None:
    db.execute("BEGIN")  # one read transaction: the meta and the problems of the same snapshot
    meta = dict(db.execute("SELECT name, value FROM snap_meta").fetchall())
    seal = json.loads(meta.get("seal") or "null")
    if not isinstance(seal, list) or len(seal) != 3:
        return None
    fingerprint, store_fingerprint, version = seal
    stored = dict(db.execute("SELECT name, value FROM meta").fetchall())
    if stored.get("fingerprint") != store_fingerprint or fingerprint != _fingerprint(root, version):
        return None
    old = index.IndexState.decode(meta["state"])
    if old is None or json.loads(meta["pending"]) or found.changed_since(old) != set():
        return None
    problems = [
        q for p, text in db.execute("SELECT path, problems FROM snap_problems") for q in decode(p, text)
    ]
    kinds = Counter({k: n for k, n in json.loads(meta["kinds"]).items() if k and n > 0})
    return int(meta["files"]), kinds, sorted(problems, key=lambda q: (q.path, q.pointer))


def seal(db: sqlite3.Connection, root: Path, version: int) -> str:
    """What a snapshot written now is stamped with, for `unchanged` to trust it: this code, the project's
    root and layout, and the cache's own fingerprint. Empty (never trusted) when this process's kinds
    table is not the format's own (a test's toy kind)."""
    from kilngit import kinds

    if kinds.KINDS != kinds.BUILTIN:
        return ""
    stored = dict(db.execute("SELECT name, value FROM meta").fetchall())
    return json.dumps([_fingerprint(root, version), stored.get("fingerprint"), version])


def decode(relpath: str, text: str) -> list[Problem]:
    """The problems of one file as the snapshot stores them."""
    return [Problem(relpath, m, f, ptr, sev, code) for m, f, ptr, sev, code in json.loads(text)]


def _fingerprint(root: Path, version: object) -> str:
    h = code_digest(f"warm 1\n{version}\n{os.path.realpath(root)}\n", _CODE)
    return h.hexdigest()[:32]


def _db_path(root: Path) -> str | None:
    """The cache database, unless a part of its path is a symlink (a committed `.kilngit/` may point
    anywhere, as `store` refuses too) or it does not exist."""
    path = os.fspath(root)
    for i, part in enumerate(DB):
        path = os.path.join(path, part)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        if not (stat.S_ISREG(mode) if i == len(DB) - 1 else stat.S_ISDIR(mode)):
            return None
    return path
