"""`early.prefetch_project` finds the project `Project.find` finds, without importing it, and starts git."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kilngit.cache import early, index
from kilngit.project import Project


def test_project_root_is_the_one_project_find_finds(project: Project, tmp_path: Path) -> None:
    deep = project.root / "tasks" / "ffmpeg" / "runs"
    deep.mkdir(parents=True, exist_ok=True)
    for folder in (project.root, deep, deep / ".." / "..", project.root / "no-such-folder"):
        assert early.project_root(folder) == Project.find(folder).root
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert early.project_root(outside) is None
    with index.one_sync():
        early.prefetch_project(outside)  # no project: nothing started, nothing raised
        assert index.ready(outside)


def test_prefetch_project_starts_git_for_the_next_sync(project: Project) -> None:
    with index.one_sync():
        early.prefetch_project(project.root / "tasks")
        found = index.sync(project.root)
    assert found is not None and found.state == index.sync(project.root).state


def test_imports_neither_pydantic_nor_the_project() -> None:
    code = (
        "import sys, kilngit.cache.early; print('pydantic' in sys.modules, 'kilngit.project' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_while_git_runs_stops_once_git_has_answered(project: Project) -> None:
    done: list[int] = []
    steps = [lambda: (done.append(1), index.sync(project.root)), lambda: done.append(2)]
    early.while_git_runs(project.root, steps)  # nothing prefetched: the answer is "ready", nothing runs
    assert done == []
    with index.one_sync():
        early.prefetch_project(project.root)
        early.while_git_runs(project.root, steps)  # the first step (if git was still running) waits for it
    assert done in ([], [1])
