"""kill -9 of the real CLI while the fake OpenAI server holds one of its calls: what a crash, a closed laptop or
Ctrl-C at the worst moment leaves behind (the server still completes the call; its answer goes nowhere)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from kilngit.testing.fake_openai import FakeOpenAI

HANG_S = 120  # guards a hang only: the events below fire as soon as the CLI gets there


def kill_while_held(server: FakeOpenAI, route: str, argv: list[str]) -> None:
    """Run `kilngit ARGV` in a child process (it is what gets killed), kill -9 it once the server holds its
    first call of `route`, and return when the server has completed that call and stopped holding `route`."""
    hold = server.hold(route)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilngit", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert hold.arrived.wait(HANG_S), f"the CLI never made the call ({route})"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HANG_S)
    finally:
        if proc.poll() is None:  # the assertion failed: do not leave the child running
            proc.kill()
            proc.wait(HANG_S)
        hold.release()
    assert hold.handled.wait(HANG_S), f"the server never completed the call ({route})"
    del server._holds[route]
