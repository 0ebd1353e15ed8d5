"""Fixtures for the Kiln tests: a python with kiln-ai, and hashing of whole folders. The demo project and its
import (`demo_src`, `demo_import`, `bulk_tmp`) are in tests/conftest.py, so every folder shares one import."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

KILN_LOADER = Path(__file__).with_name("load_with_kiln_ai.py")


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
    """SHA-256 of every file under `root` except git's own and kilngit's machine-local state (`.kilngit/`:
    locks, the local cache), by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".kilngit/")):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def kilngit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, text=True)
