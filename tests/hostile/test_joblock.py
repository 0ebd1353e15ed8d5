"""One job per (task, run config) and per (eval, judge) at a time, across processes: two identical commands
started together do the work once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from kilngit import layout
from kilngit.joblock import busy, job_locks
from tests.evals.conftest import llm_judge, results_dir
from tests.runner.conftest import add_config, inputs, write_jsonl


def start(root, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kilngit", "-C", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_identical_run_task_at_once_make_each_run_once(project, srv, tmp_path):
    add_config(project)
    srv.latency = 0.02
    path = write_jsonl(tmp_path / "in.jsonl", inputs(100))
    args = ("run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path), "--concurrency", "4")
    with job_locks(
        project.root, ["run task ffmpeg/fake"]
    ):  # both start while the work is locked: a real race
        first, second = start(project.root, *args), start(project.root, *args)
        while not _both_waiting(project, first, second):
            time.sleep(0.02)
    for p in (first, second):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    runs = list((project.root / "tasks/ffmpeg/runs").rglob("*.json"))
    assert len(runs) == 100
    assert len(srv.requests) == 100


def test_two_identical_run_eval_at_once_judge_each_run_once(eval_project, judge_server):
    llm_judge(eval_project)
    args = ("run", "eval", "correctness", "--judge", "llm")
    with job_locks(eval_project.root, ["run eval ffmpeg/correctness/llm"]):
        first, second = start(eval_project.root, *args), start(eval_project.root, *args)
        while not _both_waiting(eval_project, first, second):
            time.sleep(0.02)
    for p in (first, second):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    assert len(list(results_dir(eval_project, "llm").rglob("*.json"))) == 12
    assert len(judge_server.requests) == 12


def _both_waiting(project, *processes: subprocess.Popen) -> bool:
    """Both commands are blocked on the lock file (seen from /proc: two processes hold it open)."""
    assert all(p.poll() is None for p in processes), [p.communicate()[1].decode() for p in processes]
    lock_dir = project.root / layout.LOCAL_STATE / "locks"
    targets = {os.path.realpath(p) for p in lock_dir.glob("*.lock")}
    holders = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in targets and int(pid) != os.getpid():
                    holders += 1
            except OSError:
                pass
    return holders >= 2


def test_a_lock_of_a_killed_process_is_free(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom kilngit.joblock import busy, job_locks\n"
            f"with job_locks({str(tmp_path)!r}, ['k']):\n    print('held', flush=True)\n"
            "    time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout.readline() == b"held\n"
    holder.kill()
    holder.wait()
    with job_locks(tmp_path, ["k"]) as waited:
        assert not waited


def test_a_forked_child_does_not_keep_a_killed_parents_lock(tmp_path):
    """A process pool forked while a command holds its lock (the cache's readers do) outlives a kill -9 of
    the command: it must not keep the lock, or every later job waits for it forever."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\nfrom kilngit.joblock import busy, job_locks\n"
            f"with job_locks({str(tmp_path)!r}, ['k']):\n"
            "    if os.fork() == 0:  # the child speaks once its fork hooks have run\n"
            "        print(os.getpid(), flush=True)\n        sys.stdin.read()\n        os._exit(0)\n"
            "    time.sleep(600)",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    child = int(holder.stdout.readline())
    holder.kill()
    holder.wait()
    try:
        os.kill(child, 0)  # the child is still alive ...
        assert not busy(tmp_path, "k")  # ... and the lock is free
    finally:
        holder.stdin.close()  # the child reads EOF and exits


def test_validate_reports_work_done_twice(eval_project):
    from kilngit.evals.runner import run_eval
    from kilngit.validate import validate_project

    run_eval(eval_project, None, "correctness", judges=["has-ffmpeg"], progress=False)
    eval_project.refresh()
    first = eval_project.judge_results("ffmpeg", "correctness")[0]
    again = first.model_copy(update={"id": "", "explanation": "judged a second time"})
    eval_project.write_record(again)
    warnings = [p for p in validate_project(eval_project.root).problems if "duplicate judgement" in p.message]
    assert len(warnings) == 1 and warnings[0].severity == "warning"
