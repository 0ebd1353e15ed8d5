"""The running watcher fed each hostile file: it stays alive, reports the file in .kilngit/problems.json and
`watch --status`, keeps committing the rest, and starts again cleanly with the file still there."""

from __future__ import annotations

import json

import pytest

from kilngit.sync.statusfile import problems_path
from tests.conftest import git
from tests.evals.conftest import add_run
from tests.hostile.conftest import HOSTILE, kilngit
from tests.runner.conftest import add_config
from tests.sync.conftest import HANG_S, committed_files, make_run, wait_for, watchers, write_bytes_fast  # noqa: F401


@pytest.mark.timeout(2 * HANG_S)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_watcher_survives_each_hostile_file(project, watchers, case):  # noqa: F811
    add_run(project, "convert a.mov to mp4", "ffmpeg -i a.mov a.mp4", "good")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "a run")
    w = watchers(project.root, "--no-jobs")
    where = HOSTILE[case](project.root)
    good = make_run(f"after the hostile {case}")
    [rel] = write_bytes_fast(project.root, [good])
    wait_for(lambda: rel in committed_files(project.root), timeout=HANG_S, what="the good file committed")
    assert w.process.poll() is None, w.output
    # Nothing to refuse where git sees no file: a folder named like a record, a FIFO (every command reports those: tests/hostile/test_commands.py).
    if case not in ("folder_as_run", "folder_as_prompt", "fifo_as_run", "fifo_as_prompt"):
        path = problems_path(project.root)
        wait_for(
            lambda: path.exists() and where in {p["path"] for p in json.loads(path.read_text())["problems"]},
            timeout=HANG_S,
            what=f"{where} in problems.json",
        )
        # status.json (its count of invalid files) is written apart from problems.json: wait for it too
        wait_for(
            lambda: where in kilngit(project.root, "watch", "--status").stdout.decode(),
            timeout=HANG_S,
            what=f"{where} in watch --status",
        )
        assert where not in committed_files(project.root)
    assert w.stop() == 0, w.output
    again = watchers(project.root, "--no-jobs")  # the bad file is still there: no crash at start either
    assert again.process.poll() is None
    assert again.stop() == 0, again.output
    assert "crashed" not in w.output + again.output


@pytest.mark.timeout(2 * HANG_S)
def test_watcher_refuses_a_deletion_that_breaks_a_reference(project, watchers):  # noqa: F811
    add_config(project)  # run config `fake` names prompt `default`
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "a run config")
    prompt = "tasks/ffmpeg/prompts/default.yaml"
    w = watchers(project.root, "--no-jobs")
    (project.root / prompt).unlink()
    good = make_run("committed while the deletion waits")
    [rel] = write_bytes_fast(project.root, [good])
    wait_for(lambda: rel in committed_files(project.root), timeout=HANG_S, what="the good file committed")
    path = problems_path(project.root)
    wait_for(
        lambda: path.exists() and prompt in path.read_text(), timeout=HANG_S, what="the refused deletion"
    )
    assert prompt in committed_files(project.root)
    assert "run_configs/fake.yaml" in path.read_text()
    (project.root / "tasks/ffmpeg/run_configs/fake.yaml").unlink()  # nothing refers to the prompt any more
    wait_for(
        lambda: prompt not in committed_files(project.root), timeout=HANG_S, what="both deletions committed"
    )
    assert "tasks/ffmpeg/run_configs/fake.yaml" not in committed_files(project.root)
    assert w.stop() == 0, w.output
