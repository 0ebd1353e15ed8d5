"""`kilngit watch --sync`: two clones pushing to one remote, a real conflict, an unreachable remote, and
recovery from a rebase a killed watcher left half done."""

from __future__ import annotations

import json
import subprocess

from kilngit import layout
from kilngit.sync.repo import Repo
from kilngit.sync.syncer import Syncer
from tests.conftest import git
from tests.sync.conftest import (
    HANG_S,
    clone,
    commit_by_hand,
    committed_files,
    dirty,
    make_annotation,
    make_run,
    wait_for,
    write_bytes_fast,
)


def test_two_clones_with_watchers_end_with_the_same_history(project, remote, tmp_path, watchers):
    shared = make_run("a run both machines make (same content, same id)")
    commit_by_hand(project.root, [shared], "shared run")
    git(project.root, "push", "-q")
    a, b = clone(remote, tmp_path / "alice"), clone(remote, tmp_path / "bob")
    wa, wb = watchers(a.root, "--sync", "--no-jobs"), watchers(b.root, "--sync", "--no-jobs")
    runs = [make_run(f"input {i}") for i in range(6)]
    both = make_run("generated on both laptops")
    alice = write_bytes_fast(
        a.root, [*runs[:3], both, *[make_annotation(r, "alice@example.com") for r in runs[:3]]]
    )
    bob = write_bytes_fast(b.root, [*runs[3:], both, make_annotation(shared, "bob@example.com", 0.0)])
    every = set(alice) | set(bob)

    def converged() -> str | None:
        heads = {git(root, "rev-parse", "HEAD") for root in (a.root, b.root)} | {
            git(remote, "rev-parse", "main")
        }
        head = heads.pop()
        done = (
            not heads and every <= committed_files(a.root, head) and not dirty(a.root) and not dirty(b.root)
        )
        return head if done else None

    head = wait_for(converged, timeout=HANG_S, what="both clones and the remote to agree")
    assert git(b.root, "rev-parse", "HEAD") == head and every <= committed_files(b.root)
    for w in (wa, wb):
        assert "sync STOPPED" not in w.output and "conflict" not in w.output
        assert w.stop() == 0
    assert not Repo.open(a.root).busy() and not Repo.open(b.root).busy()


def rename_task_on_both_sides(project, remote, tmp_path) -> None:
    """A real conflict: another clone pushes one edit of task.yaml while we commit another."""
    other = clone(remote, tmp_path / "other")
    for root, name in ((other.root, "theirs"), (project.root, "ours")):
        task_yaml = root / "tasks/ffmpeg/task.yaml"
        task_yaml.write_text(task_yaml.read_text().replace("NL to ffmpeg", f"NL to ffmpeg ({name})"))
        git(root, "commit", "-qam", f"rename task: {name}")
    git(other.root, "push", "-q")


def test_real_conflict_stops_syncing_and_keeps_everything(project, remote, tmp_path):
    rename_task_on_both_sides(project, remote, tmp_path)
    mine = make_run("uncommitted work in progress")
    write_bytes_fast(project.root, [mine])
    head = git(project.root, "rev-parse", "HEAD")
    syncer = Syncer(Repo.open(project.root), interval_s=0.1)
    status = syncer.sync()
    assert status.state == "conflict" and "git pull --rebase origin main" in status.message
    assert git(project.root, "rev-parse", "HEAD") == head and Repo.open(project.root).busy() is None
    assert (project.root / layout.record_path(mine)).exists()
    assert "(ours)" in (project.root / "tasks/ffmpeg/task.yaml").read_text()
    assert not syncer.due(), "syncing stays stopped until the user resolves it"


def test_unreachable_remote_is_retried_and_commits_keep_accumulating(project, remote, tmp_path, watchers):
    moved = tmp_path / "moved.git"
    remote.rename(moved)  # the remote is gone (offline laptop)
    w = watchers(project.root, "--sync", "--no-jobs")
    write_bytes_fast(project.root, [make_run("offline 1")])
    w.wait_output("sync offline: remote unreachable")
    write_bytes_fast(project.root, [make_run("offline 2")])
    wait_for(lambda: not dirty(project.root), what="local commits while offline")
    moved.rename(remote)  # back online
    wait_for(
        lambda: git(remote, "rev-parse", "main") == git(project.root, "rev-parse", "HEAD"),
        timeout=HANG_S,
        what="the backlog pushed once the remote is back",
    )
    status_file = project.root / ".kilngit/watch/status.json"
    wait_for(lambda: json.loads(status_file.read_text())["sync"]["state"] == "ok", what="status: sync ok")
    assert json.loads(status_file.read_text())["commits"] >= 1
    w.stop()


def test_rebase_left_by_a_killed_watcher_is_aborted_on_start(project, remote, tmp_path, watchers):
    rename_task_on_both_sides(project, remote, tmp_path)
    head = git(project.root, "rev-parse", "HEAD")
    git(project.root, "fetch", "-q")
    # what a watcher killed mid-rebase leaves: its marker, and git stopped in the middle of the rebase
    (project.root / ".kilngit/watch").mkdir(parents=True, exist_ok=True)
    (project.root / ".kilngit/watch/rebasing").write_text(head)
    stopped = subprocess.run(["git", "rebase", "origin/main"], cwd=project.root, capture_output=True)
    assert stopped.returncode != 0 and Repo.open(project.root).busy() == "a rebase"
    w = watchers(project.root, "--no-jobs")
    w.wait_output("aborted a rebase the last watcher left half done")
    assert Repo.open(project.root).busy() is None and git(project.root, "rev-parse", "HEAD") == head
    w.stop()


def test_pull_waits_while_files_are_staged_by_hand(project, remote, tmp_path):
    other = clone(remote, tmp_path / "other")
    commit_by_hand(other.root, [make_run("from the other clone")], "theirs")
    git(other.root, "push", "-q")
    commit_by_hand(project.root, [make_run("ours")], "ours")
    (project.root / "notes.md").write_text("draft\n")
    git(project.root, "add", "notes.md")
    syncer = Syncer(Repo.open(project.root), interval_s=0.1)
    assert syncer.sync().state == "blocked" and "staged by hand" in syncer.status.message
    assert git(project.root, "diff", "--cached", "--name-only") == "notes.md", "the staging is untouched"
    git(project.root, "commit", "-qm", "notes")
    assert syncer.sync().state == "ok" and git(project.root, "rev-parse", "HEAD") == git(
        remote, "rev-parse", "main"
    )
