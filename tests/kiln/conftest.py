"""Fixtures for the Kiln tests: the real Kiln demo project (skipped when absent), its import (done once per
session, it takes seconds), a python with kiln-ai, and hashing of whole folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kilngit.kiln import ImportReport, import_kiln
from tests.conftest import GIT_IDENTITY

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"
KILN_LOADER = Path(__file__).with_name("load_with_kiln_ai.py")


@pytest.fixture(scope="session")
def demo_src() -> Path:
    if not (DEMO / "project.kiln").is_file():
        pytest.skip(f"the Kiln demo project is not at {DEMO}")
    return DEMO


@pytest.fixture(scope="session")
def bulk_tmp(tmp_path_factory: pytest.TempPathFactory):
    """A folder for tests that write the demo's ~11,000 files: in RAM (/dev/shm) when there is one, so disk
    contention from other processes does not slow the tests down, else a normal temp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="kilngit-kiln-tests-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("bulk")


@pytest.fixture(scope="session")
def demo_import(demo_src: Path, bulk_tmp: Path) -> tuple[Path, ImportReport]:
    """The demo imported into a new project (shared by the tests that only read it)."""
    root = bulk_tmp / "demo"
    old = dict(os.environ)
    os.environ.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", **GIT_IDENTITY)
    try:
        report = import_kiln(demo_src, root)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return root, report


@pytest.fixture(scope="session")
def kiln_python() -> str:
    """A python that has kiln_ai: $KILN_PYTHON, else /work/scratch/kilnvenv/bin/python; skip when neither."""
    candidates = [os.environ.get("KILN_PYTHON"), "/work/scratch/kilnvenv/bin/python"]
    for python in candidates:
        if python and Path(python).is_file():
            return python
    pytest.skip("kiln-ai is not installed (set KILN_PYTHON to a python that has it)")


def load_with_kiln(python: str, folder: Path) -> dict:
    """What kiln-ai loads from a Kiln project folder (counts per task), via tests/kiln/load_with_kiln_ai.py."""
    proc = subprocess.run(
        [python, str(KILN_LOADER), str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def tree_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under `root` except git's own, by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".git/"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def kilngit_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kilngit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
