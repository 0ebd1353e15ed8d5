"""The clean warm `validate` (`cache.warm`): when git says nothing changed, the CLI prints the snapshot's
report without reading a file, byte for byte what a full check prints (but the seconds); anything that
changed or looks foreign sends it down the usual path."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from kilngit import kinds, layout
from kilngit.authoring import add_run
from kilngit.cache import index, warm
from kilngit.cache.store import CACHE_DIR, DB_NAME
from kilngit.project import Project
from tests.conftest import git, run_cli


def _out(root: Path, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `kilngit -C root validate ARGV`, the seconds blanked."""
    proc = run_cli("-C", str(root), "validate", *argv, text=True)
    seconds = re.compile(r'\d+\.\d+s$|"seconds": [0-9.]+', re.M)
    return proc.returncode, seconds.sub("S", proc.stdout), seconds.sub("S", proc.stderr)


def _answers(root: Path) -> bool:
    with index.one_sync():
        return warm.unchanged(root) is not None


def _with_problems(project: Project) -> None:
    """Two files where no record lives (errors), committed."""
    run = add_run(project, "ffmpeg", "convert a.mov", "ffmpeg -i a.mov a.mp4")
    path = project.root / layout.run_file("ffmpeg", run.id)
    (path.parent / "copy.json").write_bytes(path.read_bytes())
    (project.root / "tasks/ffmpeg/runs/bad.json").write_text('{"kind": "task_run"')
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "problems")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_clean_warm_validate_prints_what_a_full_check_prints(project: Project, fmt: str) -> None:
    root = project.root
    _with_problems(project)
    full = _out(root, "--no-cache", "--format", fmt)
    assert full[0] == 1
    assert _out(root, "--format", fmt) == full  # builds the snapshot
    assert _answers(root)
    assert _out(root, "--format", fmt) == full  # answered by cache.warm
    next(root.glob("tasks/ffmpeg/runs/*/*/copy.json")).unlink()
    assert not _answers(root)
    changed = _out(root, "--format", fmt)
    assert changed == _out(root, "--no-cache", "--format", fmt) and changed != full
    assert _answers(root)


def test_a_fresh_process_answers_without_the_checks(project: Project) -> None:
    """The point of the clean path: in a fresh process it imports neither pydantic nor the checks."""
    root = project.root
    assert run_cli("-C", str(root), "validate").returncode == 0
    code = (
        "import sys; from kilngit.cache import index, warm\n"
        "with index.one_sync(): found = warm.unchanged(sys.argv[1])\n"
        "print(found[0], sorted(m for m in ('pydantic', 'kilngit.validate', 'kilngit.records') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 1)[1].strip() == "[]"


def test_foreign_or_unusual_snapshots_are_not_trusted(project: Project, tmp_path: Path) -> None:
    root = project.root
    assert run_cli("-C", str(root), "validate").returncode == 0
    assert _answers(root)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)  # another root: the cache names the old one
    assert not _answers(copy)
    with closing(sqlite3.connect(root / CACHE_DIR / DB_NAME)) as db, db:
        db.execute("UPDATE snap_meta SET value = '[]' WHERE name = 'pending'")
        db.execute("UPDATE snap_meta SET value = '[\"a\", \"b\", 2]' WHERE name = 'seal'")  # other code
    assert not _answers(root)
    assert run_cli("-C", str(root), "validate").returncode == 0
    assert _answers(root)
    kinds.KINDS["toy"] = kinds.KINDS["task"]  # a toy kind: this process's reports are not sealed
    try:
        with closing(sqlite3.connect(root / CACHE_DIR / DB_NAME)) as db, db:
            db.execute("DELETE FROM snap_meta")
        assert run_cli("-C", str(root), "validate").returncode == 0
    finally:
        del kinds.KINDS["toy"]
    assert not _answers(root)


def test_what_is_done_while_git_runs_is_what_the_usual_path_does_first(project: Project) -> None:
    """Every step done while git runs (imports, then the models' validators) is one the usual path would do
    anyway, so its output is the same whether git ends before any step or after all of them: in a fresh
    process, after every step, an edit is reported as `--no-cache` reports it."""
    root = project.root
    _with_problems(project)
    assert _out(root)[0] == 1  # builds the snapshot
    next(root.glob("tasks/ffmpeg/runs/*/*/copy.json")).unlink()
    code = (
        "import sys; from kilngit.cache import warm\n"
        "for step in warm._steps(): step()\n"
        "from kilngit import records\n"
        "assert all(getattr(records, m).__pydantic_complete__ for m in warm._MODELS)\n"
        "from kilngit.cli.main import main; sys.exit(main(['-C', sys.argv[1], 'validate']))"
    )
    got = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True)
    seconds = re.compile(r'\d+\.\d+s$|"seconds": [0-9.]+', re.M)  # as `_out`
    fresh = (got.returncode, seconds.sub("S", got.stdout), seconds.sub("S", got.stderr))
    assert fresh == _out(root, "--no-cache")
