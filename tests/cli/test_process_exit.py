"""The console entry point (`cli.main.run`) in real child processes: what a script sees of the process end
(its output, in order, and its exit code) is the same whether the interpreter's teardown is skipped or not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kilngit import layout

ONLY_RUN = "import sys; from kilngit.cli.main import run; sys.argv[0] = 'kilngit'; "


def child(code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ONLY_RUN + code, *argv], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("to_file", [False, True])
def test_output_and_exit_code_survive_the_skipped_teardown(project, tmp_path, to_file):
    bad = project.root / layout.task_file("nope")
    bad.parent.mkdir(parents=True)
    bad.write_text("name: [unclosed\n")
    argv = ["-C", str(project.root), "validate"]
    if to_file:  # a file, not a pipe: block-buffered, so only the flush before the end writes it
        out = tmp_path / "out.txt"
        got = child(f"sys.stdout = open({str(out)!r}, 'w'); sys.argv[1:] = {argv!r}; run()")
        assert got.returncode == 1 and "nope" in out.read_text()
    else:
        got = child("run()", *argv)
        assert got.returncode == 1 and "nope" in got.stdout and "error(s)" in got.stderr


def test_atexit_callbacks_still_run(project):
    code = "import atexit; atexit.register(print, 'at exit ran'); sys.argv[1:] = ['--version']; run()"
    got = child(code)
    assert got.returncode == 0 and got.stdout.rstrip().endswith("at exit ran")


def test_other_threads_still_end_the_usual_way():
    code = (
        "import threading, time\n"
        "t = threading.Thread(target=lambda: (time.sleep(0.2), print('thread done')))\n"
        "t.start(); sys.argv[1:] = ['--version']; run()"
    )
    got = child(code)
    assert got.returncode == 0 and "thread done" in got.stdout
