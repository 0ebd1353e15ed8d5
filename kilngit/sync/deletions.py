"""Deletions the watcher must not commit: a file that records left in the project still refer to (a prompt
run configs name, a judge an eval names as default, a run that annotations rate). Committing it would make
the committed tree invalid; it stays uncommitted, and is reported, until the referrers change or it returns."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from kilngit import layout
from kilngit.load import Problem
from kilngit.validate import validate_project


def broken_by_deletion(root: Path, deleted: list[str]) -> dict[str, list[Problem]]:
    """deleted path -> a problem naming who still refers to it, for the deletions that break a reference."""
    gone = set(deleted)
    referrers = sorted({p for path in deleted for p in _candidates(root, path)} - gone)
    if not referrers:
        return {}
    out: dict[str, list[Problem]] = {}
    for problem in validate_project(root, referrers).errors:
        for path in gone:
            if f"create {path} " in problem.fix or problem.fix == f"create {path}":
                out.setdefault(path, []).append(
                    Problem(
                        path,
                        f"deleted, but {problem.path} still refers to it ({problem.message})",
                        f"restore it (git checkout -- {path}) or change {problem.path} first; the deletion is "
                        "committed once nothing refers to it",
                        code="referenced",
                    )
                )
    return out


def _candidates(root: Path, path: str) -> list[str]:
    """Files that may refer to `path`: the task's definitions, and the annotations and results of a run."""
    located = layout.classify(path)
    if located is None or "task" not in located.params:
        return []
    task = located.params["task"]
    base = root / "tasks" / task
    found = [p for p in glob.glob(str(base / "**" / "*.yaml"), recursive=True)]
    if located.kind == "task_run":
        run = located.params["id"]
        found += glob.glob(str(root / layout.path("annotation", task=task, rater="*", run=run)))
    return [Path(p).relative_to(root).as_posix() for p in found if os.path.isfile(p)]
