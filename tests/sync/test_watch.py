"""The real `kilngit watch` process on a temp repo: saves, swap files, invalid files, --once, --status, SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kilngit import layout
from kilngit.records import Annotation, Rating
from kilngit.sync.statusfile import read_status
from tests.conftest import git, run_cli
from tests.sync.conftest import (
    FAST,
    commit_by_hand,
    commits,
    committed_files,
    dirty,
    make_annotation,
    make_run,
    wait_commits,
    wait_for,
    write_bytes_fast,
)


def kilngit(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **FAST},
    )


def test_editor_style_save_is_committed_once_with_a_message_by_kind(project, watchers):
    run = make_run("convert a.mov to webm")
    commit_by_hand(project.root, [run], "a run")
    w = watchers(project.root)
    ann = make_annotation(run)
    rel = layout.record_path(ann)
    target = project.root / rel
    target.parent.mkdir(parents=True)
    tmp = target.parent / f".{target.name}.editor-tmp"  # write a temp file, then rename over the target
    tmp.write_bytes(ann.to_bytes())
    os.rename(tmp, target)
    wait_commits(project.root, 3, "the annotation's commit")
    assert commits(project.root)[0] == "annotate: 1 rating by alice@example.com"
    assert git(project.root, "show", "--name-only", "--format=", "HEAD").splitlines() == [rel]
    assert "Committed-by: kilngit watch" in git(project.root, "log", "-1", "--format=%B")
    assert dirty(project.root) == []
    assert w.stop() == 0


def test_vim_style_save_ignores_swap_backup_and_write_test_files(project, watchers):
    w = watchers(project.root)
    folder = project.root / "tasks/ffmpeg"
    task_yaml = folder / "task.yaml"
    swap = folder / ".task.yaml.swp"
    swap.write_bytes(b"vim swap")
    (folder / "4913").write_bytes(b"")  # vim checks it may create files here
    (folder / "4913").unlink()
    os.rename(task_yaml, folder / "task.yaml~")  # backupcopy=no: old file kept as a backup, new one written
    task_yaml.write_text(
        task_yaml.with_name("task.yaml~").read_text().replace("NL to ffmpeg", "NL to ffmpeg v2")
    )
    (folder / "task.yaml~").unlink()
    wait_commits(project.root, 2, "the task edit's commit")
    assert commits(project.root)[0] == "edit task ffmpeg"
    assert git(project.root, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "tasks/ffmpeg/task.yaml"
    ]
    assert swap.exists() and "tasks/ffmpeg/.task.yaml.swp" not in committed_files(project.root)
    w.stop()
    assert len(commits(project.root)) == 2, "the swap file never produced a commit"


def test_invalid_file_is_reported_not_committed_then_committed_once_fixed(project, watchers):
    run = make_run("cut b.mp4")
    commit_by_hand(project.root, [run], "a run")
    w = watchers(project.root)
    good = make_annotation(run)
    rel = layout.record_path(good)
    path = project.root / rel
    path.parent.mkdir(parents=True)
    bad = good.to_data() | {"rating": {"type": "pass_fail", "value": 7}}
    path.write_text(json.dumps(bad))
    w.wait_output("not committed: error: " + rel)
    problems = json.loads((project.root / ".kilngit/problems.json").read_text())
    assert problems["files"] == 1 and problems["problems"][0]["path"] == rel
    assert "not allowed" in problems["problems"][0]["message"] and problems["problems"][0]["pointer"]
    assert len(commits(project.root)) == 2
    path.write_bytes(good.to_bytes())
    wait_commits(project.root, 3, "the fixed file's commit")
    w.wait_output(f"fixed: {rel} is valid now")
    assert json.loads((project.root / ".kilngit/problems.json").read_text())["problems"] == []
    assert rel in committed_files(project.root)
    w.stop()


def test_files_staged_by_hand_are_left_alone(project, watchers):
    (project.root / "notes.md").write_text("my notes\n")
    git(project.root, "add", "notes.md")  # the user's own staged change, outside kilngit's files
    task_yaml = project.root / "tasks/ffmpeg/task.yaml"
    task_yaml.write_text(task_yaml.read_text().replace("NL to ffmpeg", "hand-staged name"))
    git(project.root, "add", "tasks/ffmpeg/task.yaml")  # staged by hand: the user's commit to make
    w = watchers(project.root)
    run = make_run("scale c.mp4")
    write_bytes_fast(project.root, [run])

    def staged() -> list[str]:
        return git(project.root, "diff", "--cached", "--name-only").splitlines()

    wait_for(lambda: len(commits(project.root)) == 2 and len(staged()) == 2, what="the run's commit")
    assert git(project.root, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        layout.record_path(run)
    ]
    assert staged() == ["notes.md", "tasks/ffmpeg/task.yaml"]
    w.wait_output("left alone: 1 file(s) you staged by hand")
    w.stop()


def test_once_commits_everything_pending_and_exits(project):
    runs = [make_run(f"input {i}") for i in range(3)]
    write_bytes_fast(project.root, runs)
    done = kilngit(project.root, "watch", "--once", "--no-jobs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert commits(project.root)[0] == "add: 3 runs (ffmpeg)" and dirty(project.root) == []
    bad = project.root / "tasks/ffmpeg/runs/zz"
    bad.mkdir()
    (bad / "oops.json").write_text("{")
    again = kilngit(project.root, "watch", "--once", "--no-jobs")
    assert again.returncode == 1 and "not committed" in again.stdout
    assert len(commits(project.root)) == 2


def test_status_while_running_and_after_sigterm(project, watchers):
    assert "no watcher has run" in run_cli("-C", str(project.root), "watch", "--status", text=True).stdout
    w = watchers(project.root)
    status = json.loads(
        run_cli("-C", str(project.root), "watch", "--status", "--format", "json", text=True).stdout
    )
    assert status["running"] and status["pid"] == w.process.pid and status["state"] == "watching"
    text = run_cli("-C", str(project.root), "watch", "--status", text=True).stdout
    assert f"watcher pid {w.process.pid}" in text
    second = kilngit(project.root, "watch", "--no-jobs")
    assert second.returncode == 1 and "already running" in second.stderr
    # SIGTERM right after a write, before the quiet window ends: the write is committed before exiting
    write_bytes_fast(project.root, [make_run("last words")])
    assert w.stop() == 0
    assert commits(project.root)[0] == "add: 1 run (ffmpeg)"
    after = read_status(project.root)
    assert not after["running"] and after["state"] == "stopped"
    assert "stopped" in run_cli("-C", str(project.root), "watch", "--status", text=True).stdout


def test_manual_commit_and_watcher_commit_interleave_without_loss(project, watchers):
    w = watchers(project.root)
    run = make_run("to annotate")
    write_bytes_fast(project.root, [run])
    wait_commits(project.root, 2, "the run's commit")
    ann = Annotation(
        task="ffmpeg", run=run.id, rater="bob@example.com", rating=Rating(type="pass_fail", value=0)
    )
    write_bytes_fast(project.root, [ann])
    git(project.root, "add", layout.record_path(ann))  # the user commits it by hand, racing the watcher
    git(project.root, "commit", "-qm", "by hand")
    write_bytes_fast(project.root, [make_run("another")])
    wait_commits(project.root, 4, "the second run's commit")
    assert dirty(project.root) == [] and commits(project.root)[1] == "by hand"
    w.stop()


def test_polling_observer_for_network_mounts(project, watchers):
    w = watchers(project.root, "--poll", "--poll-interval", "0.2", "--no-jobs")
    assert "polling" in w.output
    write_bytes_fast(project.root, [make_run("seen by polling")])
    wait_commits(project.root, 2, "a commit found by polling")
    assert w.stop() == 0
