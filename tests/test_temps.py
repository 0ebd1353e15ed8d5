"""Temp files of atomic writes: named with their writer's pid, swept when that writer is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from kilngit import _temps
from kilngit._io import atomic_write
from kilngit.cli.main import main


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temp_names_carry_the_writer_pid(tmp_path):
    name = os.path.basename(_temps.temp_name(str(tmp_path), "x.json"))
    m = _temps.TEMP_RE.match(name)
    assert m and int(m["pid"]) == os.getpid()


def test_stale_rules(tmp_path):
    now = time.time()
    assert _temps.is_stale(f".a.json.{dead_pid()}-abcdef0123.tmp", now, now)  # writer gone
    assert not _temps.is_stale(f".a.json.{os.getpid()}-abcdef0123.tmp", now, now)  # writer alive
    assert _temps.is_stale(
        f".a.json.{os.getpid()}-abcdef0123.tmp", now - 2 * _temps.STALE_ANY_S, now
    )  # reused pid
    assert not _temps.is_stale(".a.json.abcdef012345.tmp", now, now)  # old-style name: only by age
    assert _temps.is_stale(".a.json.abcdef012345.tmp", now - 2 * _temps.STALE_UNNAMED_S, now)
    assert not _temps.is_stale("a.json", 0, now) and not _temps.is_stale(".a.json.swp", 0, now)


def test_first_write_in_a_folder_sweeps_what_a_dead_writer_left(tmp_path):
    folder = tmp_path / "runs" / "ab"
    folder.mkdir(parents=True)
    left = folder / f".abcd.json.{dead_pid()}-0123456789.tmp"
    live = folder / f".abce.json.{os.getpid()}-0123456789.tmp"
    left.write_bytes(b"half")
    live.write_bytes(b"being written")
    atomic_write(folder / "abcd.json", b"{}\n")
    assert not left.exists() and live.exists()


def test_next_command_sweeps_after_a_killed_bulk_writer(project):
    pid = dead_pid()
    marker = project.root / _temps.WRITERS_DIR / str(pid)
    marker.parent.mkdir(parents=True)
    marker.touch()
    shard = project.root / "tasks" / "ffmpeg" / "runs" / "3f"
    shard.mkdir(parents=True)
    left = shard / f".3f00000000000000.json.{pid}-0123456789.tmp"
    left.write_bytes(b"torn")
    assert main(["-C", str(project.root), "status"]) == 0
    assert not left.exists() and not marker.exists()
