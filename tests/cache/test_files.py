"""The worker processes of `cache.files`: a project read by two workers in small chunks gives the report one
process gives, and the cache they fill holds each file's own key."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from kilngit.cache import files
from kilngit.cache.keys import stat_key
from kilngit.cache.store import CACHE_DIR, DB_NAME
from kilngit.project import Project
from kilngit.validate import validate_project

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The example project with a few problems of its own, read by workers from its first file on."""
    shutil.copytree(EXAMPLE, tmp_path / "p", ignore=shutil.ignore_patterns(".kilngit"))
    project = Project(tmp_path / "p")
    monkeypatch.setenv("KILNGIT_NO_GIT_INDEX", "1")  # the per-file cache, not git's view (test_snapshot.py)
    monkeypatch.setattr(files, "_PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(files, "_CHUNK", 50)
    runs = sorted(
        p for p in (project.root / "tasks").rglob("*.json") if p.parent.parent.parent.name == "runs"
    )
    data = json.loads(runs[0].read_text())
    runs[0].write_text(json.dumps(data))  # valid but not canonical: a warning
    data = json.loads(runs[1].read_text())
    data["output"] += " (edited)"  # no longer its content hash: an error
    runs[1].write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    (runs[2].parent / "0000000000000000.json").write_text("{not json")
    return project


def _report(project: Project, workers: int, cache: bool) -> dict[str, object]:
    report = validate_project(project.root, workers=workers, cache=cache).to_dict()
    report.pop("seconds")
    return report


def test_workers_report_what_one_process_reports_and_key_what_they_read(broken: Project) -> None:
    alone = _report(broken, 1, cache=False)
    assert alone["errors"] and alone["warnings"]
    assert _report(broken, 2, cache=False) == alone
    assert not (broken.root / CACHE_DIR / DB_NAME).exists()  # --no-cache leaves no cache behind
    assert _report(broken, 2, cache=True) == alone  # cold: the workers fill the cache
    with closing(sqlite3.connect(broken.root / CACHE_DIR / DB_NAME)) as db:
        rows = dict(db.execute("SELECT path, key FROM files").fetchall())
    assert len(rows) > 20
    for relpath, key in rows.items():
        assert key == stat_key(os.lstat(broken.root / relpath)), relpath
    assert _report(broken, 2, cache=True) == alone  # warm: from the cache
