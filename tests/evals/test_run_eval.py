"""`run eval` end to end: resumable work, a killed eval resumed, stale results after a judge edit, samples,
provider failures, and run configs compared over the eval inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.evals.results import eval_results
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import Prompt, RunConfig
from kilngit.testing.fake_openai import Fault
from tests.evals.conftest import TASK, llm_judge, results_dir, verdict_from_request, write_eval, write_judge


def result_files(project: Project, judge: str) -> list:
    folder = results_dir(project, judge)
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def test_run_eval_judges_everything_once_then_nothing(eval_project, judge_server):
    llm_judge(eval_project)
    first = run_eval(Project(eval_project.root), None, "correctness", progress=False)
    assert {name: (t.scored, t.skipped) for name, t in first.judges.items()} == {
        "exec": (12, 0),
        "has-ffmpeg": (12, 0),
        "llm": (12, 0),
    }
    assert len(judge_server.requests) == 12
    again = run_eval(Project(eval_project.root), None, "correctness", progress=False)
    assert {name: (t.scored, t.skipped) for name, t in again.judges.items()} == {
        "exec": (0, 12),
        "has-ffmpeg": (0, 12),
        "llm": (0, 12),
    }
    assert len(judge_server.requests) == 12
    assert len(result_files(eval_project, "llm")) == 12


def test_only_the_named_judge_runs(eval_project):
    summary = run_eval(Project(eval_project.root), None, "correctness", judges=["has-ffmpeg"], progress=False)
    assert list(summary.judges) == ["has-ffmpeg"]
    assert not result_files(eval_project, "exec")


def test_judge_errors_are_recorded_once_and_retried_on_request(eval_project):
    write_judge(eval_project, "exec", type="code", function="judgelib.simple:crash")
    first = run_eval(Project(eval_project.root), None, "correctness", judges=["exec"], progress=False)
    assert first.judges["exec"].errors == {"exception": 12}
    assert "crash: RuntimeError: judge bug" in "\n".join(first.lines())
    again = run_eval(Project(eval_project.root), None, "correctness", judges=["exec"], progress=False)
    assert again.judges["exec"].skipped == 12
    retried = run_eval(
        Project(eval_project.root), None, "correctness", judges=["exec"], retry_errors=True, progress=False
    )
    assert retried.judges["exec"].errors == {"exception": 12}
    assert len(result_files(eval_project, "exec")) == 12  # same error, same content, same file


def test_code_judge_workers_are_reused_and_replaced_after_a_crash(eval_project):
    write_judge(eval_project, "exec", type="code", function="judgelib.simple:crash_on_rm")
    summary = run_eval(
        Project(eval_project.root), None, "correctness", judges=["exec"], concurrency=1, progress=False
    )
    assert summary.judges["exec"].errors == {"crash": 2} and summary.judges["exec"].scored == 10
    results = eval_results(Project(eval_project.root), TASK, "correctness")
    pids = {r.explanation for v in results.current["exec"].values() for r in v.scored()}
    assert 2 <= len(pids) <= 3  # one worker until each crash, then a fresh one
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(eval_project.root))]


def _cmdline_has(pid: str, text: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return text.encode() in f.read()
    except OSError:
        return False


def test_stale_results_after_a_judge_edit_are_reported_and_never_mixed_in(eval_project):
    project = Project(eval_project.root)
    run_eval(project, None, "correctness", judges=["has-ffmpeg"], progress=False)
    write_judge(eval_project, "has-ffmpeg", type="contains", score="correct", pattern="-i ")
    results = eval_results(Project(eval_project.root), TASK, "correctness")
    assert results.stale == {"has-ffmpeg": 12}
    assert results.current["has-ffmpeg"] == {}
    summary = run_eval(Project(eval_project.root), None, "correctness", judges=["has-ffmpeg"], progress=False)
    assert summary.stale == 12 and summary.judges["has-ffmpeg"].scored == 12
    assert "12 stale result(s)" in "\n".join(summary.lines())
    assert len(result_files(eval_project, "has-ffmpeg")) == 24
    # editing the eval's scores makes every judge's results stale too
    write_eval(
        eval_project,
        default_judge="exec",
        thresholds={"correct": 0.5},
        scores=[{"name": "correct", "instruction": "Reworded.", "human_rating": "correct_command"}],
    )
    results = eval_results(Project(eval_project.root), TASK, "correctness")
    assert results.stale_total() == 24 and results.current["has-ffmpeg"] == {}


def test_samples_are_judged_and_averaged(eval_project, judge_server):
    llm_judge(eval_project, temperature=1.0)

    def flaky(body: dict) -> str:  # sample 1 (seed 1) always says fail: the mean over 2 samples halves
        verdict = verdict_from_request(body)
        if body.get("seed") == 1:
            verdict["correct"] = "fail"
        return json.dumps(verdict)

    judge_server.script["script"] = flaky
    summary = run_eval(Project(eval_project.root), None, "correctness", samples=2, progress=False)
    assert summary.judges["llm"].scored == 24
    assert summary.judges["exec"].scored == 12  # deterministic judges run once whatever --samples says
    results = eval_results(Project(eval_project.root), TASK, "correctness")
    means = sorted(v.scores()["correct"] for v in results.current["llm"].values())
    assert set(means) == {0.0, 0.5}


def test_transient_provider_failures_are_not_recorded_and_retried(eval_project, judge_server):
    llm_judge(eval_project)
    judge_server.script["script"] = lambda body: (_ for _ in ()).throw(RuntimeError("down"))  # HTTP 500
    summary = run_eval(Project(eval_project.root), None, "correctness", judges=["llm"], progress=False)
    assert summary.judges["llm"].not_recorded == {"server_error": 12}
    assert not result_files(eval_project, "llm")
    judge_server.script["script"] = lambda body: json.dumps(verdict_from_request(body))
    again = run_eval(Project(eval_project.root), None, "correctness", judges=["llm"], progress=False)
    assert again.judges["llm"].scored == 12


def test_a_fatal_provider_failure_stops_the_eval(eval_project, judge_server, capsys):
    llm_judge(eval_project)
    judge_server.inject(*[Fault.http_error(401)] * 20)
    code = main(
        [
            "-C",
            str(eval_project.root),
            "run",
            "eval",
            "correctness",
            "--judge",
            "llm",
            "--no-progress",
            "--concurrency",
            "1",
        ]
    )
    assert code == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert len(judge_server.requests) < 12


def test_replay_without_recordings_names_the_missing_request(eval_project, capsys):
    llm_judge(eval_project)
    code = main(
        [
            "-C",
            str(eval_project.root),
            "run",
            "eval",
            "correctness",
            "--judge",
            "llm",
            "--cache",
            "replay",
            "--no-progress",
        ]
    )
    assert code == 1
    assert "no recorded answer" in capsys.readouterr().err


def test_record_then_replay_offline(eval_project, judge_server, monkeypatch):
    llm_judge(eval_project)
    run_eval(Project(eval_project.root), None, "correctness", judges=["llm"], cache="record", progress=False)
    assert len(judge_server.requests) == 12
    for path in result_files(eval_project, "llm"):
        path.unlink()
    monkeypatch.delenv("KILNGIT_PROVIDER_FAKE_BASE_URL")
    replayed = run_eval(
        Project(eval_project.root), None, "correctness", judges=["llm"], cache="replay", progress=False
    )
    assert replayed.judges["llm"].scored == 12 and len(judge_server.requests) == 12


def test_resuming_a_killed_eval(eval_project, judge_server):
    """A `run eval` process killed mid-way keeps its finished results; the next run does only the rest."""
    llm_judge(eval_project)
    judge_server.latency = 0.25
    command = [
        sys.executable,
        "-m",
        "kilngit",
        "-C",
        str(eval_project.root),
        "run",
        "eval",
        "correctness",
        "--judge",
        "llm",
        "--concurrency",
        "2",
        "--no-progress",
        "--no-show",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while len(result_files(eval_project, "llm")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(result_files(eval_project, "llm"))
    assert 3 <= done < 12
    judge_server.latency = 0
    before = len(judge_server.requests)
    summary = run_eval(Project(eval_project.root), None, "correctness", judges=["llm"], progress=False)
    assert summary.judges["llm"].skipped == done
    assert summary.judges["llm"].scored == 12 - done
    assert len(judge_server.requests) - before == 12 - done
    assert len(result_files(eval_project, "llm")) == 12


def test_configs_run_over_the_eval_inputs_then_get_judged(eval_project, judge_server):
    def answer(body: dict) -> str:
        if "evaluate a model's output" in body["messages"][0]["content"]:
            return json.dumps(verdict_from_request(body))
        return "ffmpeg -i in.mov out.mp4"

    judge_server.script["script"] = answer
    eval_project.write_definition(layout.prompt_file(TASK, "plain"), Prompt())
    eval_project.write_definition(
        layout.run_config_file(TASK, "new-model"),
        RunConfig(provider="fake", model="gpt-4o-mini", prompt="plain"),
    )
    llm_judge(eval_project)
    summary = run_eval(Project(eval_project.root), None, "correctness", configs=["new-model"], progress=False)
    assert summary.configs[0].succeeded == 6
    assert summary.runs == 18 and summary.judges["llm"].scored == 18
    again = run_eval(Project(eval_project.root), None, "correctness", configs=["new-model"], progress=False)
    assert again.configs[0].skipped == 6 and again.judges["llm"].scored == 0


def test_unknown_names_are_errors_before_any_work(eval_project, capsys):
    root = str(eval_project.root)
    assert main(["-C", root, "run", "eval", "nope"]) == 1
    assert "no eval 'nope'" in capsys.readouterr().err
    assert main(["-C", root, "run", "eval", "correctness", "--judge", "nope"]) == 1
    assert main(["-C", root, "run", "eval"]) == 2
    assert not result_files(eval_project, "exec")


def test_cli_json_output(eval_project, capsys):
    assert (
        main(
            [
                "-C",
                str(eval_project.root),
                "run",
                "eval",
                "--all",
                "--judge",
                "has-ffmpeg",
                "--format",
                "json",
                "--no-progress",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["runs"][0]["judges"]["has-ffmpeg"]["scored"] == 12
    assert data["scores"][0]["judge"] == "exec"  # the default judge's scoreboard, even if not run here
    assert {j["judge"] for j in data["alignment"][0]["judges"]} == {"exec", "has-ffmpeg"}


@pytest.mark.parametrize("bad", [["--samples", "0"], ["--concurrency", "0"]])
def test_bad_numbers_are_usage_errors(eval_project, bad):
    assert main(["-C", str(eval_project.root), "run", "eval", "correctness", *bad]) == 2
