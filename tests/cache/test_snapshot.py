"""validate's snapshot (git's view of what changed, `cache.snapshot`): it answers for unchanged files, it
is dropped for changed ones, several commands can share it, and without git everything is read as before."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cache.store import CACHE_DIR, DB_NAME
from kilngit.project import Project
from kilngit.validate import validate_project
from tests.conftest import git


def _db(root: Path) -> Path:
    return root / CACHE_DIR / DB_NAME


def _messages(root: Path, **kw: object) -> list[str]:
    return [p.message for p in validate_project(root, **kw).problems]  # type: ignore[arg-type]


def _forge(root: Path, relpath: str, message: str) -> None:
    """Make the snapshot say `relpath` has a problem: shows whether the snapshot is what answers."""
    with closing(sqlite3.connect(_db(root))) as db, db:
        db.execute(
            "INSERT OR REPLACE INTO snap_problems VALUES (?, ?)",
            (relpath, json.dumps([[message, "none", "", "error", ""]])),
        )


def _committed_run(project: Project) -> str:
    run = add_run(project, "ffmpeg", "convert a.mov", "ffmpeg -i a.mov a.mp4")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "run")
    return layout.run_file("ffmpeg", run.id)


def test_unchanged_files_are_answered_by_the_snapshot_and_a_changed_one_is_read(project: Project) -> None:
    relpath = _committed_run(project)
    assert _messages(project.root) == []
    _forge(project.root, relpath, "forged")
    assert _messages(project.root) == ["forged"]  # nothing changed: the snapshot answered
    assert _messages(project.root, cache=False) == []
    path = project.root / relpath
    path.write_bytes(path.read_bytes())  # same bytes: git says unchanged, so the snapshot still answers
    assert _messages(project.root) == ["forged"]
    path.write_bytes(path.read_bytes()[:-2])  # now it differs: read again
    messages = _messages(project.root)
    assert "forged" not in messages and messages == _messages(project.root, cache=False)
    git(project.root, "checkout", "-q", "--", relpath)
    assert _messages(project.root) == []


def test_an_edited_task_rechecks_its_dependents(project: Project) -> None:
    _committed_run(project)
    from kilngit.records import Annotation, Rating

    runs = list(project.runs("ffmpeg"))
    project.write_record(
        Annotation(
            task="ffmpeg",
            run=runs[0],
            rater="ann@x.org",
            rating=Rating(type="five_star", value=4),
            requirements={"speed": Rating(type="pass_fail", value=1)},
        )
    )
    before = _messages(project.root)
    assert any("speed" in m for m in before)
    task = project.root / layout.task_file("ffmpeg")
    task.write_text(
        task.read_text().replace(
            "requirements:\n", "requirements:\n  - name: speed\n    instruction: Fast.\n"
        )
    )
    assert _messages(project.root) == _messages(project.root, cache=False)
    assert not any("speed" in m for m in _messages(project.root))


def test_outside_git_everything_is_read_and_no_snapshot_is_kept(project: Project, tmp_path: Path) -> None:
    _committed_run(project)
    plain = tmp_path / "plain"
    shutil.copytree(project.root, plain, ignore=shutil.ignore_patterns(".git"))
    (plain / layout.task_file("ffmpeg")).write_text("kind: task\n")
    env_root = str(tmp_path)
    import os

    os.environ["GIT_CEILING_DIRECTORIES"] = env_root
    try:
        assert _messages(plain) == _messages(plain, cache=False) != []
        with closing(sqlite3.connect(_db(plain))) as db:
            assert db.execute("SELECT count(*) FROM snap_files").fetchone() == (0,)
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]


def test_two_commands_at_once_agree_with_a_full_check(project: Project) -> None:
    for n in range(20):
        add_run(project, "ffmpeg", f"convert {n}.mov", f"ffmpeg -i {n}.mov {n}.mp4")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "runs")
    validate_project(project.root)
    run = next(iter(sorted((project.root / "tasks/ffmpeg/runs").rglob("*.json"))))
    run.write_bytes(run.read_bytes()[:-3])
    cmd = [sys.executable, "-m", "kilngit", "-C", str(project.root), "validate", "--format", "json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    full = validate_project(project.root, cache=False).to_dict()
    for out in outs:
        assert out["problems"] == full["problems"] and out["kinds"] == full["kinds"]
    assert validate_project(project.root).to_dict()["problems"] == full["problems"]


def test_duplicates_follow_their_group(project: Project) -> None:
    """Only the groups of changed files' run keys are re-examined: a new duplicate, a removed original (the
    next one becomes the original) and a deleted duplicate all show as a full check says."""
    import random

    from tests.cache.test_cache_equivalence import Editor

    editor = Editor(project, random.Random(1))
    editor.commit()
    validate_project(project.root)
    dups = 0
    for step in range(12):
        if step % 4 == 3:
            editor.delete()
        else:
            editor.model_run()
        full = validate_project(project.root, cache=False).to_dict()["problems"]
        assert validate_project(project.root).to_dict()["problems"] == full, step
        dups += sum("duplicate" in p["message"] for p in full)
    assert dups > 0


def test_a_held_lock_is_waited_out_not_discarded(project: Project, monkeypatch: object) -> None:
    """Another writer holding the database: this command reads what it must and keeps the cache."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    relpath = _committed_run(project)
    validate_project(project.root)
    (project.root / relpath).write_bytes(b"{")
    monkeypatch.setenv("KILNGIT_CACHE_BUSY_MS", "0")
    with closing(sqlite3.connect(_db(project.root), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT OR REPLACE INTO snap_meta VALUES ('x', 'y')")
        assert _messages(project.root) == _messages(project.root, cache=False) != []
        other.execute("ROLLBACK")
    with closing(sqlite3.connect(_db(project.root))) as db:
        assert db.execute("SELECT count(*) FROM snap_files").fetchone()[0] > 0  # not thrown away
    assert _messages(project.root) == _messages(project.root, cache=False)


def test_run_keys_and_dep_rows_are_what_the_encoder_and_a_sort_make() -> None:
    """The snapshot's hand-built run keys are the encoder's compact JSON (random and hostile strings,
    keys of other shapes), and its grouped dep rows are the sorted rows."""
    import random

    from kilngit.cache.facts import Facts
    from kilngit.cache.snapshot import _COMPACT, _dep_rows, _run_key, _sorted_dep_rows

    rng = random.Random(16)
    alphabet = list('aZ0"\\\n\x00\x1f\x7fé日\ud83d😀\u2028/')
    keys: list[list[object]] = [[1, "a"], ["a", None], [True], [1.5, "x"], [], [""], [["nested"]]]
    for _ in range(3000):
        keys.append(["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(rng.randint(0, 7))])
    for key in keys:
        assert _run_key(key) == _COMPACT.encode(key), key  # type: ignore[arg-type]
    paths = [f"tasks/t/runs/{rng.choice('ab')}{rng.randint(0, 30):02d}.json" for _ in range(300)]
    relpaths = sorted(set(paths))
    facts = {
        p: Facts("task_run", [], deps=[[w, rng.choice(paths[:40]), True] for w in rng.choices("ed", k=3)])
        for p in relpaths
    }
    assert list(_sorted_dep_rows(relpaths, facts)) == sorted((d, p) for p, d in _dep_rows(relpaths, facts))


def _tables(root: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(_db(root))) as db:
        names = ("snap_meta", "snap_files", "snap_problems", "snap_deps", "snap_runs", "files")
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in names}  # noqa: S608


def _many_runs(project: Project, n: int = 12) -> None:
    for i in range(n):
        add_run(project, "ffmpeg", f"convert {i}.mov", f"ffmpeg -i {i}.mov {i}.mp4")
    (project.root / "tasks/ffmpeg/runs/broken.json").write_text("{")  # a problem in the snapshot too
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "runs")


def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from kilngit.cache import files

    monkeypatch.setattr(files, "_PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(files, "_CHUNK", 3)


def test_a_fill_chunk_by_chunk_stores_what_one_process_stores(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers' chunks stored as they arrive (files rows, snapshot rows, each chunk its own transaction)
    leave the same tables as one process storing everything at the end, and the same report."""
    _many_runs(project)
    full = validate_project(project.root, cache=False).to_dict()["problems"]
    assert validate_project(project.root, workers=1).to_dict()["problems"] == full
    alone = _tables(project.root)
    shutil.rmtree(project.root / CACHE_DIR)
    _small_chunks(monkeypatch)
    assert validate_project(project.root, workers=2).to_dict()["problems"] == full
    chunked = _tables(project.root)
    assert chunked == alone and len(chunked["snap_files"]) > 12 and chunked["snap_problems"]
    assert not any(name == "fill" for name, _ in chunked["snap_meta"])


def _full_and_alone(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """(a full check's problems, the snapshot tables one command alone stores) of a project of many runs,
    whose cache is then removed and whose fills go in small chunks."""
    _many_runs(project)
    full = validate_project(project.root, cache=False).to_dict()["problems"]
    validate_project(project.root, workers=1)
    alone = _tables(project.root)
    shutil.rmtree(project.root / CACHE_DIR)
    _small_chunks(monkeypatch)
    return full, alone


def test_another_fill_started_meanwhile_takes_the_tables_over(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second command starting a fill while the first one fills: the second's snapshot is the one kept,
    the first writes nothing after it, both reports are a full check's."""
    from kilngit.cache import snapshot

    full, alone = _full_and_alone(project, monkeypatch)
    add = snapshot._Fill.add
    inner: list[object] = []

    def add_then_another(self: snapshot._Fill, items: list[tuple[str, object]]) -> None:
        add(self, items)  # type: ignore[arg-type]
        if not inner:
            inner.append(None)  # the other command's own chunks go the usual way
            inner[0] = validate_project(project.root, workers=2).to_dict()["problems"]

    monkeypatch.setattr(snapshot._Fill, "add", add_then_another)
    assert validate_project(project.root, workers=2).to_dict()["problems"] == full
    assert inner == [full]
    assert _tables(project.root) == alone
    monkeypatch.setattr(snapshot._Fill, "add", add)
    _forge(project.root, "tasks/ffmpeg/task.yaml", "forged")
    assert "forged" in _messages(project.root)  # the kept snapshot answers


def test_a_fill_cut_short_leaves_no_snapshot_and_the_next_command_rebuilds_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that dies after storing some chunks (the tables half full, no state): the next command
    reads everything and stores the whole snapshot."""
    from kilngit.cache import snapshot

    full, alone = _full_and_alone(project, monkeypatch)
    add = snapshot._Fill.add

    def add_then_die(self: snapshot._Fill, items: list[tuple[str, object]]) -> None:
        add(self, items)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(snapshot._Fill, "add", add_then_die)
    with pytest.raises(KeyboardInterrupt):
        validate_project(project.root, workers=2)
    half = _tables(project.root)
    assert half["snap_files"] and not any(name == "state" for name, _ in half["snap_meta"])
    monkeypatch.setattr(snapshot._Fill, "add", add)
    assert validate_project(project.root, workers=2).to_dict()["problems"] == full
    assert _tables(project.root) == alone


def test_a_fill_under_a_held_lock_writes_nothing_and_waits_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holds the database for the whole cold run: the report is right, nothing is stored
    (the first wait for the lock ends every later write), and the next free run stores it all."""
    _many_runs(project)
    full = validate_project(project.root, cache=False).to_dict()["problems"]
    validate_project(project.root, workers=1)
    alone = _tables(project.root)
    with closing(sqlite3.connect(_db(project.root), isolation_level=None)) as db:
        db.execute("DELETE FROM files")
        db.execute("DELETE FROM snap_meta")
    _small_chunks(monkeypatch)
    monkeypatch.setenv("KILNGIT_CACHE_BUSY_MS", "0")
    from kilngit.cache.store import Store

    puts: list[bool] = []  # per put with rows: whether it was already given up
    put = Store.put

    def noted_put(self: Store, rows: list[tuple[str, str, str]], gone: list[str] = ()) -> None:  # type: ignore[assignment]
        if rows:
            puts.append(self._stuck)
        put(self, rows, gone)

    monkeypatch.setattr(Store, "put", noted_put)
    with closing(sqlite3.connect(_db(project.root), isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        assert validate_project(project.root, workers=2).to_dict()["problems"] == full
        other.execute("ROLLBACK")
    assert puts.count(False) == 1 and len(puts) > 3  # one put waited for the lock, the later ones did not
    held = _tables(project.root)
    assert held["files"] == [] and held["snap_meta"] == []
    assert validate_project(project.root, workers=2).to_dict()["problems"] == full
    assert _tables(project.root) == alone
