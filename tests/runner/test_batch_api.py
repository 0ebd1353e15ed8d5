"""`run task --batch` against the fake server's Batch API: end to end, split by count and by bytes, partial
failures asked online or in next batches, replay, cancel, lookups past the first page, and kill -9 of the real
CLI at each call (0 lost, 0 duplicated, 0 submitted twice)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.providers.batch_jobs import BATCH_DIR, batches_in_progress
from kilngit.records import RunConfig
from kilngit.status import project_status
from tests.held_calls import HANG_S, kill_while_held
from tests.runner.conftest import add_config, add_prompt, inputs, write_jsonl
from tests.tickets import make_tickets

PRICE = {"input": 1.0, "output": 2.0}


@pytest.fixture
def batch_config(tmp_path, monkeypatch):
    """Provider `fake` polls batches without pausing, at a small limit per batch when asked."""

    def configure(max_requests: int = 50_000, **more: object) -> None:
        path = tmp_path / "providers.yaml"
        options = {"batch_poll_seconds": 0, "batch_max_requests": max_requests}
        options.update({f"batch_{k}": v for k, v in more.items()})
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
    (job,) = [json.loads(p.read_bytes()) for p in (project.root / BATCH_DIR).glob("ended/*.json")]
    assert job["errors"] == ["overloaded"] and job["recorded"] == 4
    assert_exactly_once(project, srv, 5)


@pytest.mark.parametrize("route", ["files.create", "batches.create", "batches.retrieve", "newer batches"])
def test_kill_9_at_each_call_then_rerun_loses_and_repeats_nothing(
    project, srv, batch_config, tmp_path, route
):
    """The CLI is killed while the server holds its upload, its batch creation or its first poll (the server
    still completes the call: the answer is what gets lost); the re-run finds the file or batch again, also
    when 150 newer batches put it past the first page of the list."""
    newer = route == "newer batches"
    route = "batches.create" if newer else route
    batch_config()
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(8))
    kill_while_held(srv, route, cli(project, path, "--batch"))  # the server made the call, its answer is lost
    jobs = list((project.root / BATCH_DIR).glob("*.json"))
    assert len(jobs) == 1
    if route == "batches.retrieve":
        assert project_status(project).batches[0]["batch_id"]  # status shows the batch in progress
    if newer:
        other = srv.batch.batches["batch_000001"]["input_file_id"]
        for _ in range(150):
            srv.batch.create(
                {"input_file_id": other, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
            )
        srv.batch.submitted.clear()
        srv.batch.submitted.update(
            json.loads(x)["custom_id"] for x in srv.fine_tuning.get_file(other).data.splitlines()
        )
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


def test_a_large_job_is_split_by_bytes_too(project, srv, batch_config, tmp_path):
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(5))
    batch_config(max_bytes=1)  # every line alone is over it: one request per batch
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["batches.create"] == 5
    assert_exactly_once(project, srv, 5)
    sizes = [len(srv.fine_tuning.get_file(b["input_file_id"]).data) for b in srv.batch.batches.values()]
    srv.batch.max_bytes = 2 * max(
        sizes
    )  # the server refuses a file over its limit, as the API does over 200 MB
    batch_config(max_bytes=srv.batch.max_bytes)
    more = write_jsonl(tmp_path / "more.jsonl", inputs(9, prefix="trim clip"))
    assert main(cli(project, more, "--batch")) == 0
    assert srv.counts["batches.create"] == 5 + 5  # 9 lines, at most 2 of this size per file
    assert srv.counts["chat.completions"] == 0


def test_failed_lines_and_expired_batches_go_into_next_batches_then_online(
    project, srv, batch_config, tmp_path
):
    batch_config(retries=1)
    add_config(project)
    srv.batch.fail_fn = lambda body: (
        "overloaded" if body["messages"][-1]["content"].endswith("3 to mp4") else None
    )
    expired: list[str] = []
    srv.batch.expire_fn = lambda b: not expired and not expired.append(b["id"])  # the first batch expires
    path = write_jsonl(tmp_path / "in.jsonl", inputs(5))
    assert main(cli(project, path, "--batch")) == 0
    # Batch 1 expires: its 5 requests go into batch 2, where one line fails; that request has been in
    # 1 + batch_retries batches, so it is asked online.
    assert srv.counts["batches.create"] == 2 and srv.counts["chat.completions"] == 1
    assert max(srv.batch.submitted.values()) == 2
    runs = runs_of(project)
    assert sorted(r["input"] for r in runs) == sorted(inputs(5))
    srv.reset_stats()
    assert main(cli(project, path, "--batch")) == 0  # nothing left, nothing sent
    assert srv.counts["requests"] == 0


def test_a_retry_never_sends_an_answered_request(project, srv, batch_config, tmp_path):
    batch_config(retries=3)
    add_config(project)
    srv.batch.fail_fn = lambda body: (
        "overloaded" if body["messages"][-1]["content"].endswith("1 to mp4") else None
    )
    path = write_jsonl(tmp_path / "in.jsonl", inputs(4))
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["batches.create"] == 4 and srv.counts["chat.completions"] == 1
    again = [b["request_counts"]["total"] for b in list(srv.batch.batches.values())[1:]]
    assert again == [1, 1, 1]  # only the failing request, three more times
    assert sorted(r["input"] for r in runs_of(project)) == sorted(inputs(4))


def test_cancel_while_the_command_waits_then_rerun(project, srv, batch_config, tmp_path):
    """`batch cancel --all` while `run task --batch` polls: the command asks nothing online and leaves the
    requests for later (exit 1); a re-run puts them into a new batch (none had an answer)."""
    batch_config()
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(4))
    hold = srv.hold("batches.retrieve")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilngit", *cli(project, path, "--batch")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert hold.arrived.wait(HANG_S), "the CLI never polled"
        assert main(["-C", str(project.root), "batch", "cancel", "--all"]) == 0
        (job,) = batches_in_progress(project)
        assert job["status"] == "cancelling" and job["cancel_requested"]
    finally:
        hold.release()
        del srv._holds["batches.retrieve"]
    out, _ = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 1, out
    assert "4 left for later" in out
    assert srv.counts["chat.completions"] == 0 and not runs_of(project)
    assert not batches_in_progress(project)  # cancelled: ended, nothing came back
    project.refresh()
    assert main(cli(project, path, "--batch")) == 0
    assert srv.counts["batches.create"] == 2 and srv.counts["chat.completions"] == 0
    assert sorted(r["input"] for r in runs_of(project)) == sorted(inputs(4))


def test_cancel_of_a_batch_no_command_waits_for_then_rerun(project, srv, batch_config, tmp_path, capsys):
    batch_config()
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(3))
    kill_while_held(srv, "batches.retrieve", cli(project, path, "--batch"))  # the batch is left running
    (job,) = batches_in_progress(project)
    capsys.readouterr()
    assert main(["-C", str(project.root), "batch", "list"]) == 0
    assert f"batch {job['batch_id']} on fake: validating, 0/3 answered" in capsys.readouterr().out
    assert main(["-C", str(project.root), "batch", "cancel", job["batch_id"]]) == 0
    assert "cancel requested" in capsys.readouterr().out
    assert main(["-C", str(project.root), "batch", "cancel", "batch_nope"]) == 1
    project.refresh()
    assert main(cli(project, path, "--batch")) == 0  # records what it made (nothing), the rest in a new batch
    assert srv.counts["batches.create"] == 2 and srv.counts["chat.completions"] == 0
    assert sorted(r["input"] for r in runs_of(project)) == sorted(inputs(3))
    assert not batches_in_progress(project)
