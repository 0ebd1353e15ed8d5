"""kill -9 at random points of a real `kilngit import kiln`: the project is valid after every kill, the
next kilngit command leaves no temp file or stage folder, and the re-run completes it byte for byte. The
imports are child processes (they are what is killed); the checks after each kill run the same commands in
this process (one process start fewer per check, and the same code)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from kilngit.cli.main import main
from tests.kiln.kiln_factory import toy_project

KILLS = 10


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).as_posix().startswith((".git/", ".kilngit/"))
    }


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kilngit", *args], capture_output=True, text=True, timeout=300
    )


def test_kill_9_during_import_leaves_a_valid_project_and_the_rerun_completes_it(tmp_path, capsys):
    toy = toy_project(tmp_path / "kiln")
    for i in range(300):  # enough records for kills to land while files are written, not only at start-up
        toy.run(f"6{i:011d}", f"input {i}", f"output {i}", tags=["bulk"])
    clean = tmp_path / "clean"
    start = time.monotonic()
    assert _cli("import", "kiln", str(toy.root), "--into", str(clean)).returncode == 0
    duration = time.monotonic() - start
    expected = _files(clean)

    rng = random.Random(13)
    dest = tmp_path / "killed"
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "kilngit", "import", "kiln", str(toy.root), "--into", str(dest)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0, duration))  # a random point of the import, wherever it has got to
        proc.kill()
        proc.wait()
        if (dest / "kilngit.yaml").exists():
            capsys.readouterr()
            assert main(["-C", str(dest), "validate"]) == 0, capsys.readouterr()
            assert main(["-C", str(dest), "status"]) == 0, capsys.readouterr()
            left = [p for p in dest.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".import-")]
            assert not left, left
    assert _cli("import", "kiln", str(toy.root), "--into", str(dest)).returncode == 0
    assert _files(dest) == expected
