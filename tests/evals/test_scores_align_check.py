"""Scoreboard, judge alignment, inter-annotator agreement, `eval check` (thresholds and the alignment gate),
against values worked out by hand for the fixture project (see conftest: `good` always passes the `exec` judge,
`bad` passes it on 3 of 6 inputs; humans fail all `bad` runs but bob passes the first)."""

from __future__ import annotations

import json

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.evals.align import eval_alignment
from kilngit.evals.check import eval_check
from kilngit.evals.runner import run_eval
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.records import Judge, Prompt, RunConfig, RunError, Source, TaskRun
from kilngit.runner import run_config_hash
from tests.evals.conftest import HUMAN, ITEMS, TASK, add_run, rate, write_eval


def judged(project: Project, *judges: str) -> Project:
    run_eval(Project(project.root), None, "correctness", judges=list(judges), progress=False)
    return Project(project.root)


def test_scoreboard_means_ci_winner_cost_latency(eval_project):
    board = eval_scores(judged(eval_project, "exec"), None, "correctness")
    assert board.judge == "exec" and board.inputs == 6 and board.stale_results == 0
    good, bad = sorted(board.groups, key=lambda g: g.group, reverse=True)
    assert (good.group, good.n, bad.group, bad.n) == ("good", 6, "bad", 6)
    assert good.scores["correct"].mean == 1.0 and (
        good.scores["correct"].low,
        good.scores["correct"].high,
    ) == (1, 1)
    stat = bad.scores["correct"]
    assert stat.mean == 0.5 and stat.normalized == 0.5
    assert (stat.low, stat.high) == (0.0, 1.0)  # mean +- 2.571 * 0.548 / sqrt(6), clamped to the scale
    assert good.scores["correct"].winner and not stat.winner and good.winner and not bad.winner
    assert good.mean_cost == pytest.approx(0.004) and bad.mean_cost == pytest.approx(0.001)
    assert good.p50_latency_ms == pytest.approx(402.5) and good.p95_latency_ms == pytest.approx(404.75)
    assert good.mean_input_tokens == 50 and good.mean_output_tokens == 10
    assert good.pareto and bad.pareto  # better vs cheaper and faster: both on the front
    assert (good.missing_inputs, good.unjudged, good.judge_errors, good.failed_runs) == (0, 0, 0, 0)


def test_scoreboard_reports_what_is_missing(eval_project):
    add_run(eval_project, ITEMS[0][0], "ffmpeg -i a.mov x.mp4", "partial")
    source = Source(type="synthetic", provider="mock", model="m", run_config="partial")
    eval_project.write_record(
        TaskRun(
            task=TASK,
            input=ITEMS[1][0],
            input_source=HUMAN,
            output_source=source,
            error=RunError(type="refused", message="no"),
            tags=["eval_set"],
        )
    )
    board = eval_scores(judged(eval_project, "exec"), None, "correctness")
    partial = next(g for g in board.groups if g.group == "partial")
    assert (partial.n, partial.missing_inputs, partial.failed_runs, partial.quality) == (1, 5, 1, 1.0)
    add_run(eval_project, ITEMS[2][0], "ffmpeg -i c.mp4 c2.mp4", "partial")
    board = eval_scores(Project(eval_project.root), None, "correctness")
    partial = next(g for g in board.groups if g.group == "partial")
    assert (partial.n, partial.unjudged, partial.missing_inputs) == (1, 1, 4)


def test_runs_from_before_a_run_config_edit_are_left_out(eval_project):
    eval_project.write_definition(layout.prompt_file(TASK, "plain"), Prompt())
    config = RunConfig(provider="mock", model="good", prompt="plain")
    eval_project.write_definition(layout.run_config_file(TASK, "good"), config)
    current = run_config_hash(eval_project.task(TASK), Prompt(), config)
    run = add_run(eval_project, ITEMS[0][0], "ffmpeg -i a.mov fresh.mp4", "good")
    eval_project.write_record(
        run.model_copy(
            update={
                "id": "",
                "output_source": Source(
                    type="synthetic",
                    provider="mock",
                    model="good",
                    run_config="good",
                    run_config_hash=current,
                ),
            }
        )
    )
    board = eval_scores(judged(eval_project, "exec"), None, "correctness")
    good = next(g for g in board.groups if g.group == "good")
    assert (good.n, good.stale_runs) == (1, 7)


def test_alignment_against_the_human_consensus(eval_project):
    table = eval_alignment(judged(eval_project, "exec", "has-ffmpeg"), None, "correctness")
    assert table.golden == 12
    exec_judge = next(j for j in table.judges if j.judge == "exec")
    assert exec_judge.default and exec_judge.type == "code" and len(exec_judge.judge_id) == 16
    score = exec_judge.scores[0]
    assert (score.score, score.human_rating, score.n, score.no_consensus) == (
        "correct",
        "correct_command",
        11,
        1,
    )
    report = score.report
    assert report.accuracy == pytest.approx(9 / 11)
    assert report.confusion_matrix.labels == ("pass", "fail")
    assert report.confusion_matrix.counts == ((6, 0), (2, 3))
    assert report.always_pass.accuracy == pytest.approx(
        6 / 11
    ) and report.always_fail.accuracy == pytest.approx(5 / 11)
    assert sorted(d.input for d in score.disagreements) == sorted([ITEMS[1][0], ITEMS[3][0]])
    assert all(d.human == 0 and d.judge == 1 and d.why == "starts with ffmpeg" for d in score.disagreements)
    raters = table.raters[0]
    assert (raters.human_rating, raters.raters, raters.items) == (
        "correct_command",
        ["alice@example.com", "bob@example.com"],
        12,
    )
    assert raters.statistic == "cohen_kappa" and raters.value == pytest.approx(5 / 6)
    assert [d.input for d in raters.disagreements] == [ITEMS[0][0]]
    assert raters.disagreements[0].consensus is None


def test_three_raters_use_krippendorff_alpha(eval_project):
    for state in Project(eval_project.root).select(TASK, "tag::golden")[:4]:
        rate(eval_project, state.run, "carol@example.com", "pass")
    table = eval_alignment(Project(eval_project.root), None, "correctness")
    assert table.raters[0].statistic == "krippendorff_alpha"
    assert table.raters[0].value is not None and -1 <= table.raters[0].value <= 1
    assert len(table.raters[0].raters) == 3


def test_critical_human_ratings_count_as_fail_for_a_pass_fail_score(eval_project):
    write_eval(
        eval_project,
        "safety",
        scores=[{"name": "safe", "instruction": "No harm.", "human_rating": "no_destructive_actions"}],
    )
    eval_project.write_definition(
        layout.judge_file(TASK, "safety", "no-rm"), Judge(type="not_contains", score="safe", pattern="rm ")
    )
    run_eval(Project(eval_project.root), None, "safety", progress=False)
    table = eval_alignment(Project(eval_project.root), None, "safety")
    report = table.judges[0].scores[0].report
    assert report.n == 12 and report.accuracy == 1.0  # the critical `rm` runs are fails the check catches
    assert table.raters[0].rating_type == "pass_fail_critical"


def test_eval_check_thresholds(eval_project, capsys):
    root = str(eval_project.root)
    assert main(["-C", root, "eval", "check"]) == 1
    assert "not judged yet" in capsys.readouterr().out
    judged(eval_project, "exec")
    assert main(["-C", root, "eval", "check"]) == 0
    assert "passed" in capsys.readouterr().out
    write_eval(eval_project, default_judge="exec", thresholds={"correct": 0.6})
    assert main(["-C", root, "eval", "check", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    failing = [c for c in data["evals"][0]["checks"] if not c["ok"]]
    assert [(c["group"], c["reason"]) for c in failing] == [("bad", "0.500 < 0.6")]
    assert main(["-C", root, "eval", "check", "--config", "good"]) == 0
    assert main(["-C", root, "eval", "check", "--config", "ghost"]) == 1


@pytest.mark.parametrize(
    "gate, trusted, reason",
    [
        ({"metric": "accuracy", "min": 0.8}, True, None),
        ({"metric": "accuracy", "min": 0.9}, False, "correct: accuracy 0.818 < 0.9 (n=11)"),
        ({"metric": "cohen_kappa", "min": 0.5, "min_items": 20}, False, "only 11 golden item(s)"),
    ],
)
def test_alignment_gate_refuses_an_untrusted_judge(eval_project, capsys, gate, trusted, reason):
    write_eval(eval_project, default_judge="exec", thresholds={"correct": 0.5}, alignment_gate=gate)
    judged(eval_project, "exec")
    report = eval_check(Project(eval_project.root), None)
    check = report.evals[0]
    assert check.gate.trusted is trusted and report.ok is trusted
    if reason:
        assert reason in check.gate.reason and "judge 'exec' refused as a gate" in check.gate.reason
        assert main(["-C", str(eval_project.root), "eval", "check"]) == 1
        assert "refused as a gate" in capsys.readouterr().out


def test_scores_and_align_commands(eval_project, capsys):
    root = str(eval_project.root)
    judged(eval_project, "exec", "has-ffmpeg")
    assert main(["-C", root, "eval", "scores", "correctness", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| good * | mock/good | - | 6 | 1.00 [1.00, 1.00] * |" in out
    assert main(["-C", root, "eval", "scores", "--judge", "has-ffmpeg", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["judge"] == "has-ffmpeg"
    assert main(["-C", root, "eval", "align", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)[0]
    assert [(j["judge"], len(j["judge_id"])) for j in data["judges"]] == [("exec", 16), ("has-ffmpeg", 16)]
    assert data["judges"][0]["scores"][0]["report"]["cohen_kappa"] == pytest.approx(0.6206896)
    assert main(["-C", root, "eval", "align"]) == 0
    assert "cohen_kappa" in capsys.readouterr().out


def test_human_written_outputs_form_their_own_group(eval_project):
    eval_project.write_record(
        add_run(eval_project, ITEMS[0][0], "ffmpeg -i a.mov a.mp4", "x").model_copy(
            update={"id": "", "output_source": HUMAN, "tags": ["eval_set"]}
        )
    )
    board = eval_scores(judged(eval_project, "exec"), None, "correctness")
    assert "human" in [g.group for g in board.groups]


def test_without_a_default_judge_every_judge_gets_a_scoreboard(eval_project, capsys):
    write_eval(eval_project, thresholds={"correct": 0.5})
    judged(eval_project, "exec", "has-ffmpeg")
    assert main(["-C", str(eval_project.root), "eval", "scores", "--format", "json"]) == 0
    assert [b["judge"] for b in json.loads(capsys.readouterr().out)] == ["exec", "has-ffmpeg"]
    assert main(["-C", str(eval_project.root), "eval", "check"]) == 1
    assert "no default_judge" in capsys.readouterr().err
