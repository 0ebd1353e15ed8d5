"""The watcher follows batches a command stopped waiting for: a real `kilngit watch` process and the loopback
Batch API; the runs land, are committed, and nothing is asked twice or online."""

from __future__ import annotations

import json
import subprocess

from kilngit.providers.batch_jobs import batches_in_progress
from kilngit.sync.jobs import pending_jobs
from kilngit.testing.fake_openai import FakeOpenAI
from tests.conftest import git, run_cli
from tests.held_calls import kill_while_held
from tests.runner.conftest import add_config, inputs, point_provider_at, write_jsonl
from tests.sync.conftest import HANG_S, committed_files, dirty, wait_for


def kilngit(root, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("-C", str(root), *args, text=True)


def committed_runs(root) -> list[str]:
    return [p for p in committed_files(root) if p.startswith("tasks/ffmpeg/runs/")]


def test_the_watcher_finishes_the_runs_of_a_batch_left_running(project, watchers, monkeypatch, tmp_path):
    config = tmp_path / "providers.yaml"
    config.write_text(json.dumps({"providers": {"fake": {"options": {"batch_poll_seconds": 0}}}}))
    monkeypatch.setenv("KILNGIT_CONFIG", str(config))
    add_config(project)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "run config")
    path = write_jsonl(tmp_path / "in.jsonl", inputs(4))
    with FakeOpenAI() as server:
        point_provider_at(monkeypatch, server)
        monkeypatch.setenv("KILNGIT_PROVIDER_FAKE_TIMEOUT", "60")  # a held poll must not time out
        # The command is killed while it polls: it stops waiting, the batch runs on at the provider.
        argv = ["-C", str(project.root), "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path)]
        kill_while_held(server, "batches.retrieve", [*argv, "--batch"])
        (job,) = pending_jobs(project.root)
        assert job.kind == "batch" and "run task ffmpeg/fake" in job.label

        visit = server.hold("batches.retrieve")  # the watcher's poll waits here while we look at it
        w = watchers(project.root)
        try:
            assert visit.arrived.wait(HANG_S), "the watcher never polled the batch"
            wait_for(
                lambda: (
                    "job running: follow 1 open batch(es) of run task ffmpeg/fake"
                    in kilngit(project.root, "watch", "--status").stdout
                ),
                HANG_S,
                "the batch job in watch --status",
            )
            assert (  # as last recorded: the killed command never saw its poll's answer
                "batch batch_000001 on fake: validating, 0/4 answered"
                in kilngit(project.root, "watch", "--status").stdout
            )
        finally:
            visit.release()
        w.wait_output("job done: follow 1 open batch(es)", HANG_S)
        wait_for(
            lambda: len(committed_runs(project.root)) == 4 and not dirty(project.root),
            HANG_S,
            "the batch's runs, committed",
        )
        assert server.counts["chat.completions"] == 0 and server.counts["batches.create"] == 1
        assert max(server.batch.submitted.values()) == 1
        assert pending_jobs(project.root) == [] and not batches_in_progress(project)
        assert w.stop() == 0
        assert "4 run(s) written, done" in w.output
        # The command run again has nothing left to do and asks nothing.
        server.reset_stats()
        again = kilngit(
            project.root, "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path), "--batch"
        )
        assert again.returncode == 0, again.stderr
        assert server.counts["requests"] == 0
    runs = [json.loads(p.read_bytes()) for p in (project.root / "tasks/ffmpeg/runs").rglob("*.json")]
    assert sorted(r["input"] for r in runs) == sorted(inputs(4))
