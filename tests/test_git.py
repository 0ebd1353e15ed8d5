"""kilngit._git: what git reads from us survives a kill -9 of this process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import git

ENTRIES = 3000  # ~270 KB of --index-info: more than a pipe holds, so a pipe would be cut short


def test_git_reads_all_its_input_when_the_caller_is_killed_while_git_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    blob = git(repo, "hash-object", "-w", "--stdin")  # the empty blob
    paths = [f"tasks/ffmpeg/runs/{i:04x}/run-{i:06d}-with-a-long-name.json" for i in range(ENTRIES)]
    info = "".join(f"100644 {blob}\t{p}\n" for p in paths)
    done = tmp_path / "done"
    # A shell alias kills the Python process that started it (the watcher's kill -9, at its worst moment:
    # git is started, its input not yet read), then reads the input as `update-index --index-info` does.
    alias = f"alias.late=!kill -9 $VICTIM; git update-index --index-info; touch {done}"
    child = (
        "import os, sys; os.environ['VICTIM'] = str(os.getpid()); from kilngit import _git; "
        "_git.run_git(sys.argv[1], '-c', sys.argv[2], 'late', input=sys.stdin.read())"
    )
    proc = subprocess.run([sys.executable, "-c", child, str(repo), alias], input=info, text=True)
    assert proc.returncode == -9
    deadline = time.monotonic() + 120  # a hang guard: the alias goes on after its caller died
    while not done.exists():
        assert time.monotonic() < deadline, "the alias never finished"
        time.sleep(0.05)
    staged = git(repo, "ls-files").splitlines()
    assert staged == sorted(paths)  # every entry, and no half-written last path
