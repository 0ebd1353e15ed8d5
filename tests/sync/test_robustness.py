"""Bursts, locks and crashes: 10,000 files in a few commits, a held index.lock, kill -9 then restart."""

from __future__ import annotations

import threading
import time

from kilngit import layout
from kilngit.sync.repo import Repo
from kilngit.sync.statusfile import read_status
from kilngit.validate import validate_project
from tests.conftest import git
from tests.sync.conftest import (
    HANG_S,
    commits,
    committed_files,
    dirty,
    make_annotation,
    make_run,
    wait_commits,
    wait_for,
    write_bytes_fast,
)

BURST = 10_000


def test_burst_of_10000_files_makes_a_few_commits(project, watchers):
    runs = [make_run(f"burst input {i}") for i in range(BURST // 2)]
    annotations = [make_annotation(r) for r in runs]
    # A 2 s quiet window (not the tests' 0.3 s): a writer stalled for a moment by a busy machine is not the
    # end of the burst, so the count of commits below does not depend on the machine's load.
    w = watchers(project.root, "--no-jobs", "--quiet", "2", "--max-wait", "10")
    start = time.monotonic()
    paths = write_bytes_fast(project.root, runs) + write_bytes_fast(project.root, annotations)
    print(f"\nwritten in {time.monotonic() - start:.1f}s")
    wait_for(lambda: not dirty(project.root), timeout=HANG_S, what="every file committed")  # a hang guard
    seconds = time.monotonic() - start
    made = len(commits(project.root)) - 1
    assert 1 <= made <= 8, f"{made} commits for a burst of {BURST} files"
    assert set(paths) <= committed_files(project.root)
    w.stop()
    print(f"\n{BURST} files: {made} commit(s), all committed {seconds:.1f}s after the burst began")


def test_held_index_lock_is_waited_on(project, watchers):
    w = watchers(project.root, "--no-jobs")
    lock = project.root / ".git/index.lock"
    lock.write_text("")  # another git command (an editor's git integration, a terminal) holds the index
    run = make_run("while locked")
    write_bytes_fast(project.root, [run])
    w.wait_output("waiting: another git command holds .git/index.lock")
    time.sleep(0.5)
    assert len(commits(project.root)) == 1
    lock.unlink()
    wait_commits(project.root, 2, "the commit once unlocked")
    assert layout.record_path(run) in committed_files(project.root)
    assert w.stop() == 0


def test_kill_9_during_a_burst_then_restart_loses_nothing(project, remote, watchers):
    w = watchers(project.root, "--no-jobs", "--sync")
    runs = [make_run(f"crash input {i}") for i in range(3000)]
    writer = threading.Thread(
        target=lambda: [
            write_bytes_fast(project.root, runs[i : i + 100]) or time.sleep(0.01)
            for i in range(0, len(runs), 100)
        ]
    )
    writer.start()
    wait_for(lambda: len(commits(project.root)) > 1, timeout=HANG_S, what="a first commit during the burst")
    w.kill()  # kill -9 in the middle of the burst: no cleanup at all
    writer.join()
    assert read_status(project.root)["state"] == "dead"
    assert Repo.open(project.root).busy() is None
    again = watchers(project.root, "--no-jobs", "--sync")
    again.wait_output("did not stop cleanly: recovering")
    wait_for(lambda: not dirty(project.root), timeout=HANG_S, what="everything committed after the restart")
    wait_for(
        lambda: git(project.root, "rev-parse", "HEAD") == git(remote, "rev-parse", "main"),
        timeout=HANG_S,
        what="the remote to have every commit",
    )
    assert {layout.record_path(r) for r in runs} <= committed_files(project.root)
    assert Repo.open(project.root).busy() is None
    assert validate_project(project.root).ok
    assert again.stop() == 0
    # Checked once the new watcher is stopped: while it runs, its own status file is rewritten atomically.
    # The killed watcher's temp files (records and its own .kilngit/watch status) were swept on restart.
    assert not list(project.root.rglob("*.tmp"))
