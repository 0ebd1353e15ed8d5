"""`run eval --batch`: LLM judges' requests go through the fake server's Batch API, then the results are the
ones an online eval writes, and a re-run asks nothing; kill -9 of the real CLI at each call loses, duplicates
and submits twice nothing."""

from __future__ import annotations

import json

import pytest

from kilngit.cli.main import main
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.providers.batch_jobs import BATCH_DIR
from tests.evals.conftest import llm_judge, results_dir
from tests.held_calls import kill_while_held


@pytest.fixture
def polls_at_once(tmp_path, monkeypatch):
    config = tmp_path / "providers.yaml"
    config.write_text(json.dumps({"providers": {"fake": {"options": {"batch_poll_seconds": 0}}}}))
    monkeypatch.setenv("KILNGIT_CONFIG", str(config))


def verdicts(project) -> list[dict]:
    return [json.loads(p.read_bytes()) for p in results_dir(project, "llm").rglob("*.json")]


def test_llm_judges_through_one_batch(eval_project, judge_server, polls_at_once):
    llm_judge(eval_project)
    summary = run_eval(Project(eval_project.root), None, "correctness", progress=False, batch=True)
    counts = judge_server.counts
    assert counts["batches.create"] == 1 and counts["chat.completions"] == 0
    assert summary.batch is not None and summary.batch.recorded == 12
    assert summary.judges["llm"].scored == 12
    found = verdicts(eval_project)
    assert len(found) == 12 and all(v.get("error") is None for v in found)
    assert max(judge_server.batch.submitted.values()) == 1
    again = run_eval(Project(eval_project.root), None, "correctness", progress=False, batch=True)
    assert again.judges["llm"].skipped == 12
    assert judge_server.counts["batches.create"] == 1 and judge_server.counts["chat.completions"] == 0


@pytest.mark.parametrize("route", ["files.create", "batches.create", "batches.retrieve"])
def test_kill_9_at_each_call_then_rerun_loses_and_repeats_nothing(
    eval_project, judge_server, polls_at_once, route, capsys
):
    """The CLI is killed while the server holds its upload, its batch creation or its first poll; the re-run
    finds the file or batch again: 12 results, one per run, each request submitted once, none online."""
    llm_judge(eval_project)
    command = ["-C", str(eval_project.root), "run", "eval", "correctness", "--judge", "llm", "--batch"]
    kill_while_held(judge_server, route, [*command, "--no-progress"])
    assert len(list((eval_project.root / BATCH_DIR).glob("*.json"))) == 1
    assert not verdicts(eval_project)
    assert main(command) == 0, capsys.readouterr()
    counts = judge_server.counts
    assert counts["files.create"] == 1 and counts["batches.create"] == 1
    assert counts["chat.completions"] == 0
    found = verdicts(eval_project)
    assert len(found) == 12 and len({v["run"] for v in found}) == 12  # 0 lost, 0 duplicated
    assert all(v.get("error") is None for v in found)
    submitted = judge_server.batch.submitted
    assert len(submitted) == 12 and max(submitted.values()) == 1  # 0 submitted twice


def test_the_watchers_visit_writes_the_judgements_whose_answers_came_back(
    eval_project, judge_server, polls_at_once
):
    """The command is killed while it polls; one visit of the watcher's batch job (`follow_batches`) records
    the batch's answers and writes their results; the line that failed is left to the command, not asked."""
    from kilngit.sync.batches import follow_batches, followed

    llm_judge(eval_project)
    first = {"seen": False}

    def fail_one(body: dict) -> str | None:
        if first["seen"]:
            return None
        first["seen"] = True
        return "overloaded"

    judge_server.batch.fail_fn = fail_one
    command = ["-C", str(eval_project.root), "run", "eval", "correctness", "--judge", "llm", "--batch"]
    kill_while_held(judge_server, "batches.retrieve", command)
    project = Project(eval_project.root)
    (f,) = followed(project)
    assert f.what == "run eval ffmpeg/correctness" and f.batches == 1
    line = follow_batches(project, f.origin)  # the batch ends at this poll
    assert line == "batches of run eval ffmpeg/correctness: 11 judgement(s) written, done"
    assert len(verdicts(eval_project)) == 11 and judge_server.counts["chat.completions"] == 0
    assert followed(project) == []
    again = run_eval(
        Project(eval_project.root), None, "correctness", judges=["llm"], progress=False, batch=True
    )
    assert again.judges["llm"].skipped == 11 and again.judges["llm"].scored == 1
    assert judge_server.counts["chat.completions"] == 1  # the failed line, asked online by the command
