"""The cached per-run rows on real projects (the example project, the imported Kiln demo) and when the cache
itself is odd (corrupt, locked, copied, a record that does not match its path): the output is always the
output without the cache."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from kilngit.cache.store import CACHE_DIR
from kilngit.cache.views import DB_NAME, open_view
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import Annotation, Rating
from kilngit.run_rows import task_defs
from tests.cache.test_views_equivalence import _out
from tests.conftest import git

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
TASK = "nl-to-ffmpeg"


def _commands(project: Project) -> list[list[str]]:
    out = [["status", "--format", "json"]]
    for task in project.tasks():
        if any(project.judges(task, e) for e in project.evals(task)):
            out.append(["eval", "scores", "--task", task, "--format", "json"])
    return out


def _same(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    outputs = []
    for args in _commands(Project(root)):
        fresh = _out(root, args, monkeypatch, cache=False)
        assert _out(root, args, monkeypatch, cache=True) == fresh, " ".join(args)
        assert _out(root, args, monkeypatch, cache=True) == fresh, f"{' '.join(args)} (second cached run)"
        outputs.append(fresh)
    return outputs


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kilngit"))
    monkeypatch.setenv("KILNGIT_TRUST", "always")  # our own copy of the example
    summary = run_eval(Project(root), TASK, "prefers-mp4", cache="replay", progress=False)
    assert not summary.fatal, summary.fatal
    return root


def test_example_project(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _same(example, monkeypatch)
    project = Project(example)
    run = sorted(project.runs(TASK))[3]
    project.write_record(
        Annotation(task=TASK, run=run, rater="zoe@example.com", rating=Rating(type="pass_fail", value=0.0))
    )
    result = next((example / "tasks" / TASK / "evals" / "prefers-mp4" / "results").rglob("*.json"))
    result.unlink()
    after = _same(example, monkeypatch)
    assert before != after


def test_imported_kiln_demo(demo_import, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = demo_import
    _same(root, monkeypatch)


def test_corrupt_locked_and_copied_caches(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _same(example, monkeypatch)
    db = example / CACHE_DIR / DB_NAME
    db.write_bytes(b"not a database" * 100)
    assert _same(example, monkeypatch) == expected
    # Another process holds the write lock: the command reads the records instead of waiting.
    monkeypatch.setenv("KILNGIT_CACHE_BUSY_MS", "0")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        project = Project(example)
        assert open_view(project, TASK, task_defs(project, TASK)) is None
        assert _same(example, monkeypatch) == expected
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # A copied folder brings its cache along: rows of another root are not trusted.
    copy = tmp_path / "copy"
    shutil.copytree(example, copy, symlinks=True)
    project = Project(copy)
    run = sorted(project.runs(TASK))[0]
    project.write_record(
        Annotation(task=TASK, run=run, rater="zoe@example.com", rating=Rating(type="pass_fail", value=1.0))
    )
    _same(copy, monkeypatch)


def test_a_record_at_another_records_path_is_read_as_before(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.tickets import TASK as TICKETS
    from tests.tickets import make_tickets

    make_tickets(project)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "tickets")
    _same(project.root, monkeypatch)
    a, b = sorted((project.root / "tasks" / TICKETS / "runs").rglob("*.json"))[:2]
    a.rename(b)  # b's path now holds a's record (its ID says a)
    project = Project(project.root)
    assert open_view(project, TICKETS, task_defs(project, TICKETS)) is None
    _same(project.root, monkeypatch)
