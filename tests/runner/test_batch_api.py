"""`run task --batch` against the fake server's Batch API: end to end, split, partial failures, replay, and
kill -9 of the real CLI at each call (0 lost, 0 duplicated, 0 submitted twice)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.providers.batch_api import BATCH_DIR, batches_in_progress
from kilngit.records import RunConfig
from kilngit.status import project_status
from tests.runner.conftest import add_config, add_prompt, inputs, write_jsonl
from tests.tickets import make_tickets

HANG_S = 120  # guards a hang only: the events below fire as soon as the CLI gets there
PRICE = {"input": 1.0, "output": 2.0}


@pytest.fixture
def batch_config(tmp_path, monkeypatch):
    """Provider `fake` polls batches without pausing, at a small limit per batch when asked."""

    def configure(max_requests: int = 50_000) -> None:
        path = tmp_path / "providers.yaml"
        options = {"batch_poll_seconds": 0, "batch_max_requests": max_requests}
        path.write_text(
            json.dumps({"providers": {"fake": {"options": options, "prices": {"gpt-4o-mini": PRICE}}}})
        )
        monkeypatch.setenv("KILNGIT_CONFIG", str(path))

    return configure


def cli(project, path, *extra: str) -> list[str]:
    return [
        "-C",
        str(project.root),
        "run",
        "task",
        "ffmpeg",
        "--config",
        "fake",
        "--inputs",
        str(path),
        *extra,
    ]


def runs_of(project) -> list[dict]:
    return [json.loads(p.read_bytes()) for p in (project.root / "tasks/ffmpeg/runs").rglob("*.json")]


def assert_exactly_once(project, srv, n: int) -> None:
    runs = runs_of(project)
    assert sorted(r["input"] for r in runs) == sorted(inputs(n))  # 0 lost, 0 duplicated
    assert all(r.get("error") is None for r in runs)
    assert len(srv.batch.submitted) == n and max(srv.batch.submitted.values()) == 1  # 0 submitted twice


def test_batch_run_end_to_end_at_half_price_and_replayable(project, srv, batch_config, tmp_path, capsys):
    batch_config()
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(6))
    assert main(cli(project, path, "--batch")) == 0
    counts = srv.counts
    assert counts["batches.create"] == 1 and counts["files.create"] == 1
    assert counts["chat.completions"] == 0
    assert_exactly_once(project, srv, 6)
    assert "6 answered at the batch price" in capsys.readouterr().out
    runs = runs_of(project)
    for run in runs:
        usage = run["usage"]
        online = (usage["input_tokens"] * PRICE["input"] + usage["output_tokens"] * PRICE["output"]) / 1e6
        assert usage["cost"] == pytest.approx(online / 2)
    assert len(list((project.root / "recordings").rglob("*.json"))) == 6
    assert not batches_in_progress(project)

    # The same runs again from the recordings alone (no server needed): same content IDs.
    shutil.rmtree(project.root / "tasks/ffmpeg/runs")
    project.refresh()
    srv.reset_stats()
    assert main(cli(project, path, "--cache", "replay")) == 0
    assert sorted(r["id"] for r in runs_of(project)) == sorted(r["id"] for r in runs)
    assert srv.counts["requests"] == 0

    # A re-run has nothing left: no batch, no request.
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["requests"] == 0


def test_a_large_job_is_split_into_batches_of_the_configured_limit(project, srv, batch_config, tmp_path):
    batch_config(max_requests=2)
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(5))
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["batches.create"] == 3
    assert sorted(b["request_counts"]["total"] for b in srv.batch.batches.values()) == [1, 2, 2]
    assert_exactly_once(project, srv, 5)


def test_failed_lines_are_asked_online(project, srv, batch_config, tmp_path):
    batch_config()
    add_config(project)
    srv.batch.fail_fn = lambda body: (
        "overloaded" if body["messages"][-1]["content"].endswith("3 to mp4") else None
    )
    path = write_jsonl(tmp_path / "in.jsonl", inputs(5))
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["chat.completions"] == 1  # the one failed line, online
    (job,) = [json.loads(p.read_bytes()) for p in (project.root / BATCH_DIR).glob("*.json")]
    assert job["errors"] == ["overloaded"] and job["recorded"] == 4
    assert_exactly_once(project, srv, 5)


@pytest.mark.parametrize("route", ["files.create", "batches.create", "batches.retrieve"])
def test_kill_9_at_each_call_then_rerun_loses_and_repeats_nothing(
    project, srv, batch_config, tmp_path, route
):
    """The CLI is killed while the server holds its upload, its batch creation or its first poll (the server
    still completes the call: the answer is what gets lost); the re-run finds the file or batch again."""
    batch_config()
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(8))
    hold = srv.hold(route)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilngit", *cli(project, path, "--batch")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert hold.arrived.wait(HANG_S), "the CLI never made the call"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(HANG_S)
    finally:
        hold.release()
    jobs = list((project.root / BATCH_DIR).glob("*.json"))
    assert len(jobs) == 1
    if route == "batches.retrieve":
        assert project_status(project).batches[0]["batch_id"]  # status shows the batch in progress
    del srv._holds[route]
    project.refresh()
    assert main(cli(project, path, "--batch")) == 0
    counts = srv.counts
    assert counts["files.create"] == 1 and counts["batches.create"] == 1
    assert counts["chat.completions"] == 0
    assert_exactly_once(project, srv, 8)


def test_two_step_chain_of_thought_batches_the_first_calls_and_asks_the_second_online(
    project, srv, batch_config, tmp_path
):
    batch_config()
    add_prompt(project, "think", chain_of_thought=True)
    add_config(project, prompt="think")
    path = write_jsonl(tmp_path / "in.jsonl", inputs(3))
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["batches.create"] == 1 and srv.counts["chat.completions"] == 3
    runs = runs_of(project)
    assert len(runs) == 3 and all(r.get("reasoning") and r.get("error") is None for r in runs)


def test_a_classification_task_runs_through_a_batch(project, srv, batch_config, tmp_path):
    batch_config()
    make_tickets(project)
    project.write_definition(
        layout.run_config_file("tickets", "batchy"),
        RunConfig(provider="fake", model="gpt-4o-mini", prompt="default"),
    )
    srv.responder = lambda body: "billing"
    path = write_jsonl(tmp_path / "in.jsonl", ["I was charged twice", "Refund my last invoice"])
    args = ["-C", str(project.root), "run", "task", "tickets", "--config", "batchy", "--inputs", str(path)]
    assert main([*args, "--batch"]) == 0
    assert srv.counts["batches.create"] == 1 and srv.counts["chat.completions"] == 0
    made = [
        json.loads(p.read_bytes())
        for p in (project.root / "tasks/tickets/runs").rglob("*.json")
        if "batchy" in p.read_text()
    ]
    assert sorted(r["output"] for r in made) == ["billing", "billing"]
