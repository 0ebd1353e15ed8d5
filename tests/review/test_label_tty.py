"""`kilngit label` in a real terminal (a tmux pane): single keystrokes without Enter, in cbreak mode."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from kilngit import layout

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _wait(predicate, what, timeout: float = 120.0) -> None:  # guards a hang only
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def test_label_reads_single_keys_in_a_terminal(project, runs, tmp_path):
    socket = f"kilngit-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket, "-f", os.devnull]
    done = tmp_path / "exit_code"
    script = tmp_path / "label.sh"
    exports = "".join(
        f"export {k}={shlex.quote(v)}\n"
        for k, v in os.environ.items()
        if k in ("HOME", "PATH", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "PYTHONPATH")
    )
    script.write_text(
        f"{exports}export TERM=xterm-256color\nunset COLUMNS LINES\n"
        f"{shlex.quote(sys.executable)} -m kilngit -C {shlex.quote(str(project.root))} "
        f"label --as me@example.com\necho $? > {shlex.quote(str(done))}\nsleep 30\n"
    )
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "40", "sh", str(script)], check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout

    def annotation(run_id: str):
        return project.root / layout.annotation_file("ffmpeg", "me@example.com", run_id)

    try:
        _wait(lambda: "[q]uit" in screen(), "the first run")
        assert "convert clip" in screen() and "1/3" in screen()
        # no Enter: one keystroke per rating; the second is typed ahead while the next run is drawn
        subprocess.run([*tmux, "send-keys", "p3"], check=True)
        _wait(lambda: annotation(runs[0].id).exists() and annotation(runs[1].id).exists(), "two ratings")
        _wait(lambda: "3/3" in screen(), "the third run")
        subprocess.run([*tmux, "send-keys", "u"], check=True)
        _wait(lambda: not annotation(runs[1].id).exists(), "the undo")
        subprocess.run([*tmux, "send-keys", "n"], check=True)
        _wait(lambda: "note (Enter" in screen(), "the note prompt")
        subprocess.run([*tmux, "send-keys", "needs -n", "Enter"], check=True)
        _wait(lambda: annotation(runs[1].id).exists(), "the note")
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        _wait(done.exists, lambda: "kilngit to exit:\n" + screen())
        assert done.read_text().strip() == "0"
        assert "1 run(s) labeled" not in screen() and "2 run(s) labeled, 0 skipped, 2 left" in screen()
        assert '"note": "needs -n"' in annotation(runs[1].id).read_text()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
