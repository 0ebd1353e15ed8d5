"""The record writer process: whole frames only, answers in order, and no finished run lost when either side
stops early. Real processes and pipes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit._write_worker import frame, split_frames
from kilngit.errors import KilngitError
from kilngit.records import Source, TaskRun
from kilngit.runner.writer import RecordWriter


def start_worker(root) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kilngit._write_worker", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


def leftovers(root) -> list[str]:
    return [name for _, _, names in os.walk(root) for name in names if name.endswith(".tmp")]


def test_split_frames_keeps_a_partial_frame_for_later():
    data = bytearray(frame("a/b.json", b"{}\n") + frame("c.json", b"[1]\n")[:-2])
    frames, used = split_frames(data)
    assert frames == [("a/b.json", b"{}\n")]
    assert data[used:] == frame("c.json", b"[1]\n")[:-2]


def test_worker_writes_each_frame_and_answers_in_order(tmp_path):
    (tmp_path / "blocked").write_text("a file where a folder should be")
    worker = start_worker(tmp_path)
    out, _ = worker.communicate(
        frame("runs/aa/one.json", b"1\n")
        + frame("../escape.json", b"2\n")
        + frame("blocked/x.json", b"3\n")
        + frame("runs/bb/two.json", b"4\n"),
        timeout=30,
    )
    answers = out.decode().splitlines()
    assert answers[0] == "+" and answers[3] == "+"
    assert answers[1] == "-../escape.json: ../escape.json is not a path inside the project"
    assert answers[2] == "-blocked/x.json: blocked is a file where a folder belongs"
    assert (tmp_path / "runs/aa/one.json").read_bytes() == b"1\n"
    assert (tmp_path / "runs/bb/two.json").read_bytes() == b"4\n"
    assert not (tmp_path.parent / "escape.json").exists()
    assert oct((tmp_path / "runs/aa/one.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_worker_drops_a_frame_cut_off_by_its_parent_dying(tmp_path):
    worker = start_worker(tmp_path)
    whole, cut = frame("runs/aa/whole.json", b"1\n"), frame("runs/aa/cut.json", b"2\n" * 100)
    worker.communicate(whole + cut[:-50], timeout=30)
    assert (tmp_path / "runs/aa/whole.json").exists()
    assert not (tmp_path / "runs/aa/cut.json").exists()
    assert leftovers(tmp_path) == []


def test_worker_keeps_writing_when_nobody_reads_its_answers(tmp_path):
    worker = start_worker(tmp_path)
    worker.stdout.close()  # the parent is gone
    frames = b"".join(frame(f"runs/{i % 7:02d}/{i}.json", b"x" * 4000) for i in range(300))
    worker.stdin.write(frames)
    worker.stdin.close()
    assert worker.wait(timeout=30) == 0
    assert sum(len(names) for _, _, names in os.walk(tmp_path / "runs")) == 300


def run(task: str, i: int) -> TaskRun:
    return TaskRun(
        task=task, input=f"input {i}", input_source=Source(type="human", created_by="t@example.com")
    )


def test_writer_writes_records_and_tells_the_project(project):
    done = []

    async def batch():
        async with RecordWriter(project, backlog=4) as writer:
            for i in range(40):
                await writer.write(run("ffmpeg", i), done.append)

    asyncio.run(batch())
    assert len(done) == 40 and all(r.id for r in done)
    assert set(project.runs("ffmpeg")) >= {r.id for r in done}
    for r in done:
        assert (project.root / layout.run_file("ffmpeg", r.id)).read_bytes() == r.to_bytes()


def test_a_dead_writer_process_is_reported_not_silent(project):
    async def batch():
        async with RecordWriter(project) as writer:
            await writer.write(run("ffmpeg", 0))
            os.kill(writer._process.pid, signal.SIGKILL)
            writer._process.wait()
            await writer.write(run("ffmpeg", 1))

    with pytest.raises(
        KilngitError, match=r"writer process stopped \(exit code -9\) before writing [12] records"
    ):
        asyncio.run(batch())
