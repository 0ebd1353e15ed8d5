"""kill -9 of `run task` together with its record writer process (as the OOM killer does): the next run
leaves no temp file behind and completes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kilngit._temps import WRITERS_DIR, pid_alive
from kilngit.cli.main import main
from tests.runner.conftest import add_config, inputs, write_jsonl


def children(pid: int) -> list[int]:
    """The pids of the record writer processes whose parent is `pid` (Linux /proc), not e.g. a git call."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid and b"kilngit._write_worker" in cmdline:
                out.append(int(entry))
    return out


def test_kill_9_of_run_task_and_its_writer_leaves_nothing_after_the_next_run(project, srv, tmp_path):
    add_config(project)
    srv.latency = 0.2
    path = write_jsonl(tmp_path / "in.jsonl", inputs(40))
    runs_dir = project.root / "tasks" / "ffmpeg" / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kilngit",
            "-C",
            str(project.root),
            "run",
            "task",
            "ffmpeg",
            "--config",
            "fake",
            "--inputs",
            str(path),
            "--concurrency",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker = project.root / WRITERS_DIR / str(proc.pid)
    while not (marker.exists() and children(proc.pid)) and proc.poll() is None:
        time.sleep(0.01)  # until the batch has started its writer process
    writer = children(proc.pid)
    assert writer, "the batch ended before it could be killed"
    # What a write cut short leaves, named as the writer's own temp files are: a kill at the wrong instant
    # leaves exactly this, so the test does not depend on hitting that instant.
    shard = runs_dir / "ab"
    shard.mkdir(parents=True, exist_ok=True)
    torn = shard / f".ab00000000000000.json.{writer[0]}-0123456789.tmp"
    torn.write_bytes(b'{"half": ')
    for pid in [proc.pid, *writer]:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    while any(pid_alive(pid) for pid in writer):  # SIGKILL is delivered asynchronously
        time.sleep(0.01)
    assert marker.exists() and torn.exists()

    project._cache.clear()
    assert (
        main(["-C", str(project.root), "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path)])
        == 0
    )
    assert not [p for p in project.root.rglob("*") if p.name.endswith(".tmp")]
    assert not marker.exists()
    project._cache.clear()
    assert len(project.runs("ffmpeg")) == 40
