"""Bulk tagging, deterministic sampling and frozen eval/golden sets, in real git clones: two people tagging and
sampling at once merge without conflicts."""

from __future__ import annotations

import json

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cli.main import main
from kilngit.errors import NotFoundError
from kilngit.evals.freeze import freeze_set
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.records import Eval, Judge
from kilngit.review.tagging import sample_runs, tag_runs
from tests.conftest import git
from tests.review.conftest import make_run
from tests.sync.conftest import clone, remote  # noqa: F401  (fixture)
from tests.tickets import TASK, make_tickets


def _runs(project: Project, n: int = 10) -> list[str]:
    return [make_run(project, f"convert clip {i} to mp4").id for i in range(n)]


def test_tag_adds_and_removes_as_the_rater(project):
    ids = _runs(project, 4)
    report = tag_runs(project, "ffmpeg", "all", add=["review"], rater="ana@example.com")
    assert sorted(report.changed) == sorted(ids) and report.unchanged == 0
    assert all((project.root / layout.annotation_file("ffmpeg", "ana@example.com", i)).is_file() for i in ids)
    again = tag_runs(Project(project.root), "ffmpeg", "all", add=["review"], rater="ana@example.com")
    assert again.changed == [] and again.unchanged == 4  # a re-run is a no-op
    tag_runs(Project(project.root), "ffmpeg", "tag::review", remove=["review"], rater="ben@example.com")
    assert Project(project.root).select("ffmpeg", "tag::review") == []  # a removal wins
    with pytest.raises(NotFoundError, match="matches"):
        tag_runs(Project(project.root), "ffmpeg", "tag::nothing", add=["x"], rater="ana@example.com")


def test_sample_is_deterministic(project, tmp_path):
    _runs(project, 12)
    first = sample_runs(project, "ffmpeg", "has_output", n=5, seed=7, tag="golden", rater="ana@example.com")
    assert len(first.chosen) == 5 and len(first.changed) == 5
    other = sample_runs(
        Project(project.root), "ffmpeg", "has_output", n=5, seed=8, tag="other", rater="ana@example.com"
    )
    assert other.chosen != first.chosen
    same = sample_runs(
        Project(project.root), "ffmpeg", "has_output", n=5, seed=7, tag="golden", rater="ben@example.com"
    )
    assert same.chosen == first.chosen and same.changed == []


def test_cli_tag_and_sample(project, capsys):
    _runs(project, 6)
    root = str(project.root)
    assert main(["-C", root, "tag", "--filter", "all", "--add", "eval_set", "--as", "ana@example.com"]) == 0
    assert "6 matched, 6 changed, 0 already so (as ana@example.com)" in capsys.readouterr().out
    assert (
        main(
            ["-C", root, "sample", "--filter", "tag::eval_set", "-n", "10", "--seed", "1", "--format", "json"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["chosen"]) == 6 and "all are picked" in captured.err
    assert main(["-C", root, "tag", "--filter", "tag::none", "--add", "x"]) == 1
    assert main(["-C", root, "tag", "--filter", "all"]) == 2


def test_two_people_tag_and_sample_at_once_without_conflicts(project, remote, tmp_path):  # noqa: F811
    _runs(project, 8)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "runs")
    git(project.root, "push", "-q")
    ana, ben = clone(remote, tmp_path / "ana"), clone(remote, tmp_path / "ben")
    tag_runs(ana, "ffmpeg", "all", add=["checked"], rater="ana@example.com")
    sample_runs(ana, "ffmpeg", "has_output", n=3, seed=1, tag="golden", rater="ana@example.com")
    tag_runs(ben, "ffmpeg", "all", add=["reviewed"], rater="ben@example.com")
    sample_runs(ben, "ffmpeg", "has_output", n=3, seed=2, tag="golden", rater="ben@example.com")
    for person in (ana, ben):
        git(person.root, "add", "-A")
        git(person.root, "commit", "-qm", f"tags by {person.root.name}")
    git(ana.root, "push", "-q")
    git(ben.root, "pull", "-q", "--no-rebase", "--no-edit")  # a merge: no conflict, both people's files kept
    git(ben.root, "push", "-q")
    assert git(ben.root, "status", "--porcelain") == ""
    merged = Project(ben.root)
    states = merged.states("ffmpeg")
    golden = {s.id for s in states.values() if "golden" in s.tags}
    assert 3 <= len(golden) <= 6
    assert all({"reviewed", "checked"} <= s.tags for s in states.values())
    assert main(["-C", str(ben.root), "validate"]) == 0


def _eval(project: Project, task: str, **fields) -> None:
    ev = Eval(
        name="routing",
        scores=[{"name": "category", "type": "label", "instruction": "Which class."}],
        eval_set="tag::eval_set",
        golden_set="tag::golden",
        **fields,
    )
    project.write_definition(layout.eval_file(task, "routing"), ev)
    project.write_definition(
        layout.judge_file(task, "routing", "exact"), Judge(type="exact_match", score="category")
    )


def test_frozen_eval_set_ignores_later_runs_and_reports_drift(project, capsys):
    make_tickets(project)
    _eval(project, TASK)
    report = freeze_set(Project(project.root), TASK, "routing", "eval_set")
    assert report.created and report.members == 16 and report.split == "routing-eval"
    project = Project(project.root)
    assert project.evals(TASK)["routing"].eval_set == "split::routing-eval/all"
    assert "# yaml-language-server" in (project.root / layout.eval_file(TASK, "routing")).read_text()
    add_run(project, TASK, "A new ticket nobody froze", "bug", ["eval_set"], author="maker@example.com")
    project = Project(project.root)
    assert len(project.select(TASK, "split::routing-eval/all")) == 16
    again = freeze_set(project, TASK, "routing", "eval_set")
    assert not again.created and again.drift == 1 and again.members == 16
    root = str(project.root)
    assert main(["-C", root, "eval", "freeze", "routing", "--task", TASK, "--set", "eval_set"]) == 0
    assert "drift: 1 run(s) match 'tag::eval_set'" in capsys.readouterr().out
    assert (
        main(["-C", root, "eval", "freeze", "routing", "--task", TASK, "--set", "eval_set", "--extend"]) == 0
    )
    assert "17 run(s)" in capsys.readouterr().out
    assert main(["-C", root, "eval", "freeze", "routing", "--task", TASK, "--set", "golden_set"]) == 0
    assert main(["-C", root, "validate"]) == 0


def test_freezing_an_empty_set_is_an_error(project, capsys):
    make_tickets(project, tags=())
    _eval(project, TASK)
    assert main(["-C", str(project.root), "eval", "freeze", "routing", "--task", TASK]) == 2
    assert "matches no run: nothing to freeze" in capsys.readouterr().err
    assert not (project.root / layout.split_file(TASK, "routing-eval")).exists()


def test_tags_of_generated_inputs_carry_over_to_their_answers(project, tmp_path):
    from kilngit.authoring import add_run
    from kilngit.runner.inputs import filter_inputs

    add_run(project, "ffmpeg", "make a gif of clip.mp4", tags=["eval_set"])
    [item] = filter_inputs(Project(project.root), "ffmpeg", "input_only")
    assert item.tags == ("eval_set",)


def test_scores_of_a_frozen_set_on_the_kiln_demo(demo_copy):
    root = demo_copy
    project = Project(root)
    task = next(iter(project.tasks()))
    ev_slug = next(e for e in project.evals(task) if project.judges(task, e))
    before = {s.id for s in project.select(task, project.evals(task)[ev_slug].eval_set)}
    assert before
    report = freeze_set(project, task, ev_slug, "eval_set")
    assert report.members == len(before)
    project = Project(root)
    assert {s.id for s in project.select(task, project.evals(task)[ev_slug].eval_set)} == before
    assert eval_scores(project, task, ev_slug).inputs == len(
        {s.run.input for s in project.select(task, f"split::{report.split}/all")}
    )
