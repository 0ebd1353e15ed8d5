"""Running a task against a real loopback server: faults, failures, resume, no lost or duplicated runs."""

from __future__ import annotations

import asyncio

from kilngit import layout
from kilngit.errors import KilngitError
from kilngit.records import Source
from kilngit.runner import RunInput, run_inputs, run_inputs_async, run_task
from kilngit.testing.fake_openai import Fault, Reply
from kilngit.validate import validate_project
from tests.runner.conftest import KEY, add_config, inputs, write_jsonl

SRC = Source(type="file_import", file="inputs.jsonl")


def items(texts: list[str]) -> list[RunInput]:
    return [RunInput(t, SRC) for t in texts]


def model_runs(project, config: str = "fake"):
    project._cache.clear()
    return [
        r for r in project.runs("ffmpeg").values() if r.output_source and r.output_source.run_config == config
    ]


def assert_one_run_per_key(project, expected: int, config: str = "fake") -> list:
    runs = model_runs(project, config)
    keys = [(r.input, r.sample) for r in runs]
    assert len(keys) == len(set(keys)) == expected, (
        f"{len(keys)} runs, {len(set(keys))} distinct, want {expected}"
    )
    return runs


def test_runs_are_written_with_provenance_and_rerun_is_a_noop(project, srv, tmp_path):
    add_config(project, temperature=0.0, max_tokens=100)
    path = write_jsonl(tmp_path / "in.jsonl", [{"input": t, "tags": ["batch1"]} for t in inputs(12)])
    summary = run_task(project, "ffmpeg", "fake", inputs_file=path, concurrency=4, progress=False)
    assert (summary.planned, summary.succeeded, summary.remaining) == (12, 12, 0)
    runs = assert_one_run_per_key(project, 12)
    run = runs[0]
    assert run.output == f"echo: {run.input}" and run.tags == ["batch1"] and run.error is None
    src = run.output_source
    assert (src.type, src.provider, src.model, src.prompt, src.run_config) == (
        "synthetic",
        "fake",
        "gpt-4o-mini",
        "default",
        "fake",
    )
    assert src.run_config_hash == summary.run_config_hash and run.input_source.file == "in.jsonl"
    assert run.usage.input_tokens > 0 and run.usage.output_tokens > 0 and run.usage.latency_ms > 0
    body = srv.requests[0].body
    assert body["messages"][0]["role"] == "system" and "ffmpeg command" in body["messages"][0]["content"]
    assert "Never deletes" in body["messages"][0]["content"]  # requirements are listed
    assert body["temperature"] == 0.0 and body["max_tokens"] == 100
    again = run_task(project, "ffmpeg", "fake", inputs_file=path, progress=False)
    assert (again.skipped, again.succeeded, len(again.results)) == (12, 0, 12)
    assert srv.counts["chat.completions"] == 12
    report = validate_project(project.root)
    assert report.ok and not report.problems, report.problems


def test_transient_faults_lose_and_duplicate_nothing(project, srv, monkeypatch):
    # the conftest's 2 s timeout, not less: on a busy machine a healthy answer can take longer than a
    # short timeout five times in a row; the slow fault stays well past the timeout
    add_config(project)
    kinds = [
        Fault.rate_limit(retry_after=0.05),
        Fault.server_error(500),
        Fault.drop(),
        Fault.drop_mid_body(),
        Fault.malformed_json(),
        Fault.server_error(503),
        Fault.slow(4),
    ]
    srv.fault_fn = lambda i, body: kinds[i % len(kinds)] if i % 3 == 0 and i < 60 else None
    summary = run_inputs(project, "ffmpeg", "fake", items(inputs(40)), concurrency=8, progress=False)
    assert summary.succeeded == 40 and not summary.not_recorded and not summary.failed
    assert_one_run_per_key(project, 40)
    assert srv.counts["faults"] > 10


def test_persistent_provider_failures_are_reported_not_recorded_then_retried(project, srv):
    add_config(project)
    doomed = lambda i, body: Fault.server_error(503) if "doomed" in str(body["messages"][-1]) else None  # noqa: E731
    srv.fault_fn = doomed
    texts = inputs(6) + ["doomed one", "doomed two"]
    summary = run_inputs(project, "ffmpeg", "fake", items(texts), concurrency=3, progress=False)
    assert summary.succeeded == 6 and summary.not_recorded == {"server_error": 2} and summary.remaining == 2
    assert "HTTP 503" in summary.reasons["server_error"][0]
    assert any("will be retried" in line for line in summary.lines())
    assert_one_run_per_key(project, 6)
    srv.fault_fn = None
    summary = run_inputs(project, "ffmpeg", "fake", items(texts), concurrency=3, progress=False)
    assert (summary.skipped, summary.succeeded, summary.remaining) == (6, 2, 0)
    assert_one_run_per_key(project, 8)


def test_unusable_answers_are_recorded_as_failed_runs(project, srv):
    add_config(project)
    answers = {
        "long": Reply("ffmpeg -i a.mov -c:v lib", finish_reason="length"),
        "bad": Reply(refusal="I can't help with deleting files."),
        "filtered": Reply("", finish_reason="content_filter"),
        "blank": Reply("   "),
        "fine": Reply("ffmpeg"),
    }
    srv.responder = lambda body: answers[body["messages"][-1]["content"]]
    summary = run_inputs(project, "ffmpeg", "fake", items(list(answers)), progress=False)
    assert summary.failed == {"truncated": 1, "refused": 2, "empty": 1} and summary.succeeded == 1
    runs = {r.input: r for r in assert_one_run_per_key(project, 5)}
    assert runs["long"].error.type == "truncated" and runs["long"].output is None
    assert runs["long"].intermediate_outputs == {"raw_output": "ffmpeg -i a.mov -c:v lib"}
    assert "deleting files" in runs["bad"].error.message and runs["filtered"].error.type == "refused"
    assert not runs["long"].input_only and runs["fine"].output == "ffmpeg"
    assert run_inputs(project, "ffmpeg", "fake", items(list(answers)), progress=False).skipped == 5


def test_fatal_failure_stops_the_batch(project, srv):
    add_config(project)
    srv.fault_fn = lambda i, body: Fault.http_error(401, message=f"Incorrect API key provided: {KEY}")
    summary = run_inputs(project, "ffmpeg", "fake", items(inputs(30)), concurrency=2, progress=False)
    assert summary.fatal is not None and summary.fatal.reason == "auth"
    assert srv.counts["chat.completions"] <= 2 and not model_runs(project)
    assert KEY not in "\n".join(summary.lines())


def test_samples_use_their_own_seeds(project, srv):
    add_config(project)
    summary = run_inputs(project, "ffmpeg", "fake", items(["a", "b"]), samples=3, progress=False)
    assert summary.succeeded == 6
    runs = assert_one_run_per_key(project, 6)
    assert sorted(r.sample for r in runs) == [0, 0, 1, 1, 2, 2]
    assert sorted(str(r.body.get("seed")) for r in srv.requests) == ["1", "1", "2", "2", "None", "None"]


def test_cancelled_batch_keeps_finished_runs_and_resumes(project, srv):
    add_config(project)
    srv.latency = 0.05
    texts = inputs(40)

    async def cancel_midway():
        job = asyncio.create_task(
            run_inputs_async(project, "ffmpeg", "fake", items(texts), concurrency=4, progress=False)
        )
        runs_dir = project.root / "tasks" / "ffmpeg" / "runs"
        while len(list(runs_dir.rglob("*.json"))) < 3 and not job.done():  # some finished: cancel midway
            await asyncio.sleep(0.01)
        job.cancel()
        try:
            await job
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(cancel_midway())
    finished = len(model_runs(project))
    assert 0 < finished < 40
    assert not [
        p for p in (project.root / "tasks").rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"
    ]
    srv.latency = 0.0
    summary = run_inputs(project, "ffmpeg", "fake", items(texts), concurrency=4, progress=False)
    assert summary.skipped == finished and summary.succeeded == 40 - finished
    assert_one_run_per_key(project, 40)
    assert srv.counts["chat.completions"] <= 40 + 4  # at most the in-flight requests were asked twice


def test_edited_run_config_reruns_and_keeps_old_runs(project, srv):
    add_config(project)
    run_inputs(project, "ffmpeg", "fake", items(["a", "b"]), progress=False)
    add_config(project, temperature=0.5)
    project._cache.clear()
    summary = run_inputs(project, "ffmpeg", "fake", items(["a", "b"]), progress=False)
    assert summary.succeeded == 2 and summary.stale == 2 and "older runs" in "\n".join(summary.lines())


def test_filter_inputs_point_at_their_parent(project, srv):
    from kilngit.authoring import add_run

    add_config(project)
    waiting = add_run(project, "ffmpeg", "make a gif from clip.mp4", tags=["todo"])
    add_run(project, "ffmpeg", "already answered", output="ffmpeg -i x y")
    summary = run_task(project, "ffmpeg", "fake", filter_text="input_only", progress=False)
    (run,) = summary.new_runs
    assert (
        run.parent == waiting.id and run.input == waiting.input and run.input_source == waiting.input_source
    )
    assert run.tags == ["todo"]  # the tags of the input it answers carry over


def test_replay_reproduces_identical_runs_without_server(project, srv, monkeypatch):
    add_config(project)
    srv.responder = lambda body: Reply("ffmpeg -i in.mov out.mp4", reasoning_content="mp4 is the default")
    first = run_inputs(project, "ffmpeg", "fake", items(inputs(5)), cache="record", progress=False)
    ids = sorted(r.id for r in first.new_runs)
    for run in first.new_runs:
        (project.root / layout.run_file("ffmpeg", run.id)).unlink()
    srv.stop()
    for var in ("FAKE_API_KEY", "KILNGIT_PROVIDER_FAKE_BASE_URL"):
        monkeypatch.delenv(var)
    project._cache.clear()
    again = run_inputs(project, "ffmpeg", "fake", items(inputs(5)), cache="replay", progress=False)
    assert sorted(r.id for r in again.new_runs) == ids  # with the server gone: no request was made
    assert again.new_runs[0].reasoning == "mp4 is the default"
    for path in project.root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_replay_miss_stops_with_a_clear_error(project):
    add_config(project)
    summary = run_inputs(
        project, "ffmpeg", "fake", items(["never recorded input"]), cache="replay", progress=False
    )
    assert summary.fatal.reason == "replay_miss" and "never recorded input" in str(summary.fatal)


def test_progress_bar_can_be_forced(project, capfd):
    from kilngit.providers.mock import ScriptedProvider

    add_config(project, provider="mock")
    summary = run_inputs(
        project, "ffmpeg", "fake", items(["a", "b", "c"]), provider=ScriptedProvider(), progress=True
    )
    assert summary.succeeded == 3 and "3/3" in capfd.readouterr().err


def test_a_failing_write_stops_the_batch_with_its_error(project):
    import pytest

    from kilngit.providers.mock import ScriptedProvider

    add_config(project, provider="mock")
    (project.root / "tasks/ffmpeg/runs").write_text("not a folder")
    with pytest.raises(
        KilngitError,
        match=r"could not write tasks/ffmpeg/runs/\w\w/\w\w/\w+\.json: tasks/ffmpeg/runs is a file where a folder belongs",
    ):
        run_inputs(project, "ffmpeg", "fake", items(inputs(20)), provider=ScriptedProvider(), progress=False)
