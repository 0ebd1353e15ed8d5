"""The cache file itself: it is used when it should be, and discarded or skipped when it cannot be trusted
(corrupt, another kilngit's, copied from another folder, racy entries), and two commands can share it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cache.store import CACHE_DIR, DB_NAME, Store, code_fingerprint
from kilngit.project import Project
from kilngit.validate import validate_project


@pytest.fixture(autouse=True)
def _files_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the per-file cache (path + lstat keys): git's view of the files, which would
    answer first (`cache.snapshot`, tested in test_snapshot.py), is left out."""
    monkeypatch.setenv("KILNGIT_NO_GIT_INDEX", "1")


def _db(project: Project) -> Path:
    return project.root / CACHE_DIR / DB_NAME


def _forge(project: Project, relpath: str, message: str) -> None:
    """Put a made-up problem into the cached facts of `relpath` (keeping its key): shows whether it is used."""
    with closing(sqlite3.connect(_db(project))) as db, db:
        (facts,) = db.execute("SELECT facts FROM files WHERE path = ?", (relpath,)).fetchone()
        row = json.loads(facts)
        row[2] = [[message, "none", "", "error", ""]]
        db.execute("UPDATE files SET facts = ? WHERE path = ?", (json.dumps(row), relpath))


def _messages(project: Project, **kw: object) -> list[str]:
    return [p.message for p in validate_project(project.root, **kw).problems]  # type: ignore[arg-type]


def _settled(project: Project) -> str:
    """Validate until the run file is stored (a file changed within the stamp's clock tick is not)."""
    run = add_run(project, "ffmpeg", "convert a.mov", "ffmpeg -i a.mov a.mp4")
    relpath = layout.run_file("ffmpeg", run.id)
    old = os.stat(project.root / relpath).st_mtime_ns - 10**9
    os.utime(project.root / relpath, ns=(old, old))  # ctime stays new: stored once the next tick came
    for _ in range(1000):
        validate_project(project.root)
        with closing(sqlite3.connect(_db(project))) as db:
            if db.execute("SELECT 1 FROM files WHERE path = ?", (relpath,)).fetchone():
                return relpath
    raise AssertionError("the run file was never stored")


def test_unchanged_file_is_answered_by_the_cache_and_a_touched_one_is_read(project: Project) -> None:
    relpath = _settled(project)
    _forge(project, relpath, "forged")
    assert "forged" in _messages(project)
    assert "forged" not in _messages(project, cache=False)
    os.utime(project.root / relpath)  # same bytes, new stat: read again
    assert "forged" not in _messages(project)


def test_corrupt_cache_is_discarded(project: Project) -> None:
    relpath = _settled(project)
    _forge(project, relpath, "forged")
    _db(project).write_bytes(b"\0garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        Path(f"{_db(project)}{suffix}").unlink(missing_ok=True)
    assert validate_project(project.root).ok
    assert Store(project.root, code_fingerprint("")).usable


def test_cache_of_another_kilngit_or_folder_is_not_trusted(project: Project, tmp_path: Path) -> None:
    relpath = _settled(project)
    _forge(project, relpath, "forged")
    with closing(sqlite3.connect(_db(project))) as db, db:
        db.execute("UPDATE meta SET value = 'other' WHERE name = 'fingerprint'")
    assert "forged" not in _messages(project)

    _forge(project, relpath, "forged")
    copy = tmp_path / "copy"
    shutil.copytree(project.root, copy, symlinks=True)
    assert "forged" not in _messages(Project(copy))


def test_racy_file_is_not_stored(project: Project) -> None:
    """A file changed in the same clock tick as the stamp (here: its mtime set ahead) is never stored."""
    run = add_run(project, "ffmpeg", "convert b.mov", "ffmpeg -i b.mov b.mp4")
    path = project.root / layout.run_file("ffmpeg", run.id)
    ahead = path.stat().st_mtime_ns + 3600 * 10**9
    os.utime(path, ns=(ahead, ahead))
    for _ in range(3):
        assert validate_project(project.root).ok
    with closing(sqlite3.connect(_db(project))) as db:
        paths = {p for (p,) in db.execute("SELECT path FROM files")}
    assert layout.task_file("ffmpeg") in paths or not paths  # others are stored once settled
    assert layout.run_file("ffmpeg", run.id) not in paths


def test_read_only_cache_folder_runs_uncached(project: Project) -> None:
    folder = project.root / CACHE_DIR
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the cache folder belongs")
    assert validate_project(project.root).ok


def test_two_commands_at_once_and_a_writer_holding_the_lock(project: Project) -> None:
    for i in range(40):
        add_run(project, "ffmpeg", f"convert {i}.mov", f"ffmpeg -i {i}.mov {i}.mp4")
    (project.root / layout.run_file("ffmpeg", add_run(project, "ffmpeg", "x", "y").id)).write_text("{")
    expected = validate_project(project.root, cache=False).to_dict()
    validate_project(project.root)  # the cache exists
    # A writer mid-transaction (forged rows, not committed): readers must not see them, nor wait on them.
    holder = sqlite3.connect(_db(project), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(
        'UPDATE files SET facts = \'[false,"task_run",[["forged","","","error",""]],false,[],[],null]\''
    )
    env = dict(os.environ, KILNGIT_CACHE_BUSY_MS="0")
    cmd = [sys.executable, "-m", "kilngit", "-C", str(project.root), "validate", "--format", "json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    holder.execute("ROLLBACK")
    holder.close()
    for out in outs:
        assert out["problems"] == expected["problems"] and out["kinds"] == expected["kinds"]
    # And two at once with nobody holding the lock: both right, and the cache they leave is right.
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    for out in outs + [validate_project(project.root).to_dict()]:
        assert out["problems"] == expected["problems"] and out["kinds"] == expected["kinds"]


def test_symlinked_cache_folder_is_never_used(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / DB_NAME).write_bytes(b"someone's file")
    (project.root / layout.LOCAL_STATE).mkdir(exist_ok=True)
    (project.root / CACHE_DIR).symlink_to(outside)
    assert validate_project(project.root).ok
    assert sorted(p.name for p in outside.iterdir()) == [DB_NAME]
    assert (outside / DB_NAME).read_bytes() == b"someone's file"


def test_symlinked_stamp_is_not_touched(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "outside-stamp"
    outside.write_text("x")
    os.utime(outside, ns=(10**18, 10**18))
    (project.root / CACHE_DIR).mkdir(parents=True)
    (project.root / CACHE_DIR / "stamp").symlink_to(outside)
    assert validate_project(project.root).ok
    assert outside.stat().st_mtime_ns == 10**18 and outside.read_text() == "x"
