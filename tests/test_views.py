"""`show_run` / `list_runs` and the `kilngit show` / `kilngit runs` commands on a rated, judged project."""

from __future__ import annotations

import json

from kilngit.cli.main import main
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.views import list_runs, show_run
from tests.evals.conftest import _eval_template, eval_project  # noqa: F401  (fixtures)


def _judged(project: Project) -> Project:
    run_eval(Project(project.root), None, "correctness", judges=["has-ffmpeg"], progress=False)
    return Project(project.root)


def test_show_run_has_annotations_and_judge_verdicts(eval_project):
    project = _judged(eval_project)
    run = next(r for r in project.runs("ffmpeg").values() if r.output == "rm -rf c.mp4")
    detail = show_run(project, run.id[:6])
    assert detail.run.id == run.id and detail.tags == ["eval_set", "golden"]
    assert [a.rater for a in detail.annotations] == ["alice@example.com", "bob@example.com"]
    assert detail.annotations[0].requirements == {
        "correct_command": "fail",
        "no_destructive_actions": "critical",
    }
    assert detail.consensus == {"correct_command": "fail", "no_destructive_actions": "critical"}
    [verdict] = detail.judges
    assert (verdict.eval, verdict.judge, verdict.scores, verdict.default) == (
        "correctness",
        "has-ffmpeg",
        {"correct": 0.0},
        False,
    )
    assert json.loads(json.dumps(detail.to_dict()))["run"]["id"] == run.id


def test_list_runs_filters_and_columns(eval_project):
    project = _judged(eval_project)
    rows = list_runs(project, None, "config::bad")
    assert len(rows) == 6 and {r.config for r in rows} == {"bad"}
    assert rows == sorted(rows, key=lambda r: r.id)
    assert all(r.model == "bad" and r.cost == 0.001 for r in rows)


def test_show_and_runs_commands(eval_project, capsys):
    project = _judged(eval_project)
    run = next(r for r in project.runs("ffmpeg").values() if r.output == "rm -rf c.mp4")
    assert main(["-C", str(project.root), "show", run.id[:8]]) == 0
    out = capsys.readouterr().out
    assert "rm -rf c.mp4" in out and "make c.mp4 black and white" in out
    assert "alice@example.com: correct_command fail; no_destructive_actions critical" in out
    assert "judge correctness/has-ffmpeg: correct 0" in out
    assert (
        main(
            [
                "-C",
                str(project.root),
                "runs",
                "--filter",
                "config::good",
                "--format",
                "jsonl",
                "--columns",
                "id,output,consensus",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and set(lines[0]) == {"id", "output", "consensus"} and len(lines[0]["id"]) == 16
    assert main(["-C", str(project.root), "runs", "--filter", "config::good"]) == 0
    table = capsys.readouterr().out
    assert "6 run(s)" in table and run.id[:8] not in table and "ffmpeg -i a.mov a.mp4" in table
    assert main(["-C", str(project.root), "runs", "--columns", "id,nope"]) == 2
    assert "unknown column 'nope'" in capsys.readouterr().err
    assert main(["-C", str(project.root), "show", "ffff0000"]) == 1


def test_runs_on_the_kiln_demo(demo_import):
    root, _ = demo_import
    project = Project(root)
    task = next(iter(project.tasks()))
    rows = list_runs(project, task, "rated")
    assert rows and all(r.raters >= 1 for r in rows)
    detail = show_run(project, rows[0].id, task)
    assert detail.annotations and detail.run.output
