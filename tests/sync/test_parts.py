"""The watcher's parts, in-process: quiet windows, ignore rules, commit messages, locks, the queue, overflow."""

from __future__ import annotations

import json
import logging
import os

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.errors import NotFoundError
from kilngit.sync.committer import Committer
from kilngit.sync.debounce import Debouncer
from kilngit.sync.jobs import JobPool
from kilngit.sync.lock import WatcherLock, WatcherRunningError, watch_dir
from kilngit.sync.message import Staged, commit_message
from kilngit.sync.queue import queue_eval, queue_run, queued_jobs, write_outcome
from kilngit.sync.watcher import ProjectWatcher, is_ignored
from tests.conftest import git
from tests.sync.conftest import commit_by_hand, make_annotation, make_run, write_bytes_fast


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batch_is_ready_after_a_quiet_window_or_the_maximum_wait():
    clock = Clock()
    d = Debouncer(quiet_s=1.0, max_wait_s=5.0, clock=clock)
    assert d.take() is None and d.due_in() is None
    d.add(["a"])
    clock.now += 0.9
    assert d.take() is None
    clock.now += 0.2
    assert d.take().paths == ["a"] and d.pending == 0
    for _ in range(8):  # a steady stream: each write restarts the quiet window, the maximum wait still wins
        d.add(["b"])
        clock.now += 0.8
    assert d.take().paths == ["b"]
    d.add(["c"])
    d.rescan()
    assert d.take(force=True).rescan


@pytest.mark.parametrize(
    "path, ignored",
    [
        (".git/index", True),
        (".kilngit/watch/status.json", True),
        ("tasks/t/.task.yaml.swp", True),
        ("tasks/t/task.yaml~", True),
        ("tasks/t/4913", True),
        ("tasks/t/.#task.yaml", True),
        ("tasks/t/#task.yaml#", True),
        ("tasks/t/runs/ab/.abcd.json.x1y2z3.tmp", True),
        ("tasks/t/task.yaml", False),
        ("kilngit.yaml", False),
        ("tasks/t/runs/ab/abcd.json", False),
    ],
)
def test_ignore_rules(path, ignored):
    assert is_ignored(path) is ignored


def test_commit_message_names_kinds_counts_and_people(project):
    run = make_run("x")
    items = [Staged(layout.record_path(make_annotation(make_run(f"r{i}"))), new=True) for i in range(12)]
    items += [
        Staged(layout.record_path(run), new=True),
        Staged("tasks/ffmpeg/task.yaml"),
        Staged(layout.run_file("ffmpeg", "0" * 16), deleted=True),
    ]
    message = commit_message(project.root, items)
    subject, body = message.split("\n\n", 1)
    assert subject == "annotate: 12 annotations by alice@example.com (+3 more)"  # fits in 72 characters
    assert "- add: 1 run (ffmpeg)\n- edit task ffmpeg\n- remove: 1 run (ffmpeg)" in body
    two = commit_message(project.root, items[-3:-1]).split("\n", 1)[0]
    assert two == "add: 1 run (ffmpeg); edit task ffmpeg"


def test_one_watcher_per_project_and_a_stale_lock_is_taken_over(project):
    (watch_dir(project.root) / "watch.lock").write_text("999999\n")  # left by a watcher killed with -9
    with WatcherLock(project.root) as lock:
        assert lock.previous_pid == 999999
        with pytest.raises(WatcherRunningError, match="already running"):
            WatcherLock(project.root).acquire()
    with WatcherLock(project.root) as again:
        assert again.previous_pid is None, "a clean exit leaves no pid behind"


def test_a_forked_child_does_not_hold_the_watchers_lock(project):
    """A process-pool worker forked by the watcher shares its open files: it must not keep the lock held
    once the watcher is gone (a kill -9 would leave a dying worker holding it)."""
    from kilngit.sync.lock import running_watcher_pid

    lock = WatcherLock(project.root).acquire()
    fd = lock._fd
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report whether it still has the lock's fd, then wait to be told to exit
        os.close(read)
        try:
            os.fstat(fd)
            os.write(write, b"open")
        except OSError:
            os.write(write, b"closed")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 16) == b"closed"
    finally:
        os.close(read)
        os.waitpid(child, 0)
    assert running_watcher_pid(project.root) == os.getpid()
    lock.release()
    assert running_watcher_pid(project.root) is None


def test_deleted_records_are_committed_and_user_staged_files_skipped(project):
    runs = [make_run("keep"), make_run("drop")]
    commit_by_hand(project.root, runs)
    (project.root / layout.record_path(runs[1])).unlink()
    write_bytes_fast(project.root, [make_run("staged by hand")])
    git(project.root, "add", "tasks")
    result = Committer(project.root).flush(None)
    assert result.committed == [] and len(result.left_alone) == 2
    git(project.root, "reset", "-q")
    result = Committer(project.root).flush(None)
    assert result.message.startswith("add: 1 run (ffmpeg); remove: 1 run (ffmpeg)")
    assert git(project.root, "status", "--porcelain") == ""


def test_queue_requests_are_checked_and_content_addressed(project, capsys):
    with pytest.raises(NotFoundError, match="no eval"):
        queue_eval(project, "missing")
    with pytest.raises(NotFoundError, match="no run config"):
        queue_run(project, "ffmpeg", "missing")
    from kilngit.records import Eval

    project.write_definition(
        layout.eval_file("ffmpeg", "quality"),
        Eval(name="quality", scores=[{"name": "correct", "instruction": "Does it work?"}]),
    )
    request = queue_eval(project, "quality", judges=("a", "b"), samples=2)
    assert request.id == request.expected_id() and request.options == {"judges": "a,b", "samples": 2}
    assert (project.root / layout.job_request_file("ffmpeg", request.id)).is_file()
    assert [q.state for q in queued_jobs(project)] == ["queued"]
    write_outcome(project, request, "done", summary="judged 3 runs")
    assert [q.state for q in queued_jobs(project)] == ["done"]
    capsys.readouterr()
    assert main(["-C", str(project.root), "queue", "list"]) == 0
    assert f"{request.id}  done    ffmpeg: eval quality" in capsys.readouterr().out
    assert main(["-C", str(project.root), "queue", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["outcome"]["summary"] == "judged 3 runs"


def test_kernel_queue_overflow_makes_the_next_batch_a_full_rescan(project):
    debouncer = Debouncer(0.0, 0.0)
    watcher = ProjectWatcher(project.root, debouncer)
    watcher.start()
    try:
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; events were lost"
        )
    finally:
        watcher.stop()
    batch = debouncer.take(force=True)
    assert batch is not None and batch.rescan and watcher.overflows == 1


def test_project_in_a_subfolder_of_a_bigger_repository(tmp_path):
    from kilngit.authoring import new_task
    from kilngit.init import init_project

    repo = tmp_path / "mono"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("code lives here\n")
    project = init_project(repo / "ml" / "labels", name="labels")
    new_task(project, "ffmpeg", "Write one ffmpeg command.")
    result = Committer(project.root).flush(None)
    assert result.commit and "add task ffmpeg" in result.message
    assert (
        "ml/labels/tasks/ffmpeg/task.yaml" in git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    )
    assert git(repo, "status", "--porcelain", "--", "ml/labels/tasks", "ml/labels/kilngit.yaml") == ""
    assert "?? README.md" in git(repo, "status", "--porcelain").splitlines()  # not kilngit's to commit


def test_a_job_whose_cooldown_ran_out_is_due_before_the_next_periodic_scan(tmp_path):
    pool = JobPool(tmp_path, cooldown_s=30.0)
    pool._not_before["finetune:t/ft"] = (100.0, 30.0)  # as reap() leaves it: may start again at t=100
    assert not pool.cooldown_ended(since=50.0, now=99.0)
    assert pool.cooldown_ended(since=50.0, now=100.0)
    assert not pool.cooldown_ended(since=100.0, now=160.0)  # a scan at t=100 has seen it already
