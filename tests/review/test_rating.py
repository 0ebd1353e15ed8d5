"""`kilngit rate` and the rating library: merge, validation, identity, prefixes, several raters."""

from __future__ import annotations

import json

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.errors import AmbiguousIdError, KilngitError, NotFoundError, UsageError
from kilngit.project import Project
from kilngit.review.rating import RatingChange, parse_overall, rate
from tests.conftest import git
from tests.review.conftest import colliding_runs, commit, make_run


def _file(project: Project, rater: str, run_id: str) -> dict:
    return json.loads((project.root / layout.annotation_file("ffmpeg", rater, run_id)).read_text())


def test_rate_writes_only_the_raters_file_and_merges(project, runs):
    run = runs[0]
    commit(project, "runs")
    rate(
        project,
        run.id[:6],
        RatingChange(overall=parse_overall("pass"), tags_add=("golden",)),
        "alice@example.com",
    )
    rate(
        project,
        run.id[:6],
        RatingChange(
            requirements={"correct_command": "fail", "no_destructive_actions": "critical"}, note="uses -y"
        ),
        "alice@example.com",
    )
    data = _file(project, "alice@example.com", run.id)
    assert data["rating"] == {"type": "pass_fail", "value": 1.0}
    assert data["requirements"]["correct_command"]["value"] == 0.0
    assert data["requirements"]["no_destructive_actions"] == {"type": "pass_fail_critical", "value": -1.0}
    assert data["tags_added"] == ["golden"] and data["note"] == "uses -y"
    changed = git(project.root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert changed == [f"?? {layout.annotation_file('ffmpeg', 'alice@example.com', run.id)}"]
    # the written file is canonical and valid
    from kilngit.validate import validate_project

    assert validate_project(project.root).ok


def test_untag_of_own_tag_only_drops_it_and_untag_of_run_tag_is_recorded(project):
    run = make_run(project, "scale to 720p", tags=["eval_set"])
    rate(project, run.id, RatingChange(tags_add=("golden", "zz")), "a@example.com")
    rate(project, run.id, RatingChange(tags_remove=("golden", "eval_set")), "a@example.com")
    data = _file(project, "a@example.com", run.id)
    assert data["tags_added"] == ["zz"] and data["tags_removed"] == ["eval_set"]
    project = Project(project.root)
    assert project.states("ffmpeg")[run.id].tags == frozenset({"zz"})
    rate(project, run.id, RatingChange(tags_add=("eval_set",)), "a@example.com")
    data = _file(project, "a@example.com", run.id)
    assert (
        data["tags_added"] == ["eval_set", "zz"] and "tags_removed" not in data or data["tags_removed"] == []
    )


def test_clear_and_empty_annotation_deletes_the_file(project, runs):
    rid = runs[1].id
    rate(project, rid, RatingChange(overall=parse_overall("4")), "a@example.com")
    assert _file(project, "a@example.com", rid)["rating"] == {"type": "five_star", "value": 4.0}
    annotation = rate(project, rid, RatingChange(clear=True), "a@example.com")
    assert annotation.is_empty
    assert not (project.root / layout.annotation_file("ffmpeg", "a@example.com", rid)).exists()
    rate(project, rid, RatingChange(note="odd"), "a@example.com")
    rate(project, rid, RatingChange(note=""), "a@example.com")
    assert not (project.root / layout.annotation_file("ffmpeg", "a@example.com", rid)).exists()


def test_two_raters_each_own_file_and_dispute(project, runs):
    rid = runs[0].id
    rate(project, rid, RatingChange(overall=parse_overall("pass")), "alice@example.com")
    rate(project, rid, RatingChange(overall=parse_overall("fail")), "bob@example.com")
    state = Project(project.root).states("ffmpeg")[rid]
    assert sorted(a.rater for a in state.annotations) == ["alice@example.com", "bob@example.com"]
    assert state.disputed
    assert _file(project, "alice@example.com", rid)["rating"]["value"] == 1.0


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ({"nope": "pass"}, "no requirement 'nope'"),
        ({"correct_command": "critical"}, "not a valid value"),
        ({"correct_command": "4"}, "not a valid value"),
        ({"no_destructive_actions": "maybe"}, "use pass, fail, critical"),
    ],
)
def test_invalid_requirement_values_are_refused(project, runs, requirements, message):
    with pytest.raises(UsageError, match=message):
        rate(project, runs[0].id, RatingChange(requirements=requirements), "a@example.com")
    assert not (project.root / "tasks/ffmpeg/annotations").exists()


def test_prefixes_like_git(project):
    a, b = colliding_runs("ffmpeg")
    project.write_record(a)
    project.write_record(b)
    common = next(i for i in range(16) if a.id[i] != b.id[i])
    with pytest.raises(AmbiguousIdError, match="ambiguous"):
        rate(project, a.id[:common], RatingChange(note="x"), "a@example.com")
    with pytest.raises(NotFoundError, match="too short"):
        rate(project, a.id[:3], RatingChange(note="x"), "a@example.com")
    missing = next(p for p in ("0000", "ffff", "abcd") if not a.id.startswith(p) and not b.id.startswith(p))
    with pytest.raises(NotFoundError, match="no run"):
        rate(project, missing, RatingChange(note="x"), "a@example.com")
    assert rate(project, a.id[: common + 1].upper(), RatingChange(note="x"), "a@example.com").run == a.id


def test_ambiguous_prefix_across_tasks(project):
    from kilngit.authoring import new_task

    new_task(project, "other", "Something else.")
    a, b = colliding_runs("ffmpeg", other_task="other")
    project.write_record(a)
    project.write_record(b)
    common = next(i for i in range(16) if a.id[i] != b.id[i])
    with pytest.raises(AmbiguousIdError, match="several tasks"):
        rate(project, a.id[:common], RatingChange(note="n"), "a@example.com")
    assert rate(project, a.id[:common], RatingChange(note="n"), "a@example.com", task=b.task).run == b.id
    assert rate(project, a.id, RatingChange(note="n"), "a@example.com").task == a.task
    with pytest.raises(NotFoundError, match="any task"):
        rate(
            project, "f" * 16 if not a.id.startswith("ffff") else "0" * 16, RatingChange(note="n"), "x@e.com"
        )


def test_no_identity_is_a_clear_error(project, runs, monkeypatch):
    git(project.root, "config", "--global", "--unset", "user.email")
    with pytest.raises(KilngitError, match="cannot tell who you are"):
        rate(project, runs[0].id, RatingChange(note="x"))
    monkeypatch.setenv("KILNGIT_AS", "env@example.com")
    assert rate(project, runs[0].id, RatingChange(note="x")).rater == "env@example.com"


def test_git_email_is_the_default_rater(project, runs):
    assert rate(project, runs[0].id, RatingChange(note="x")).rater == "tester@example.com"


def test_input_only_runs_cannot_be_rated(project):
    run = make_run(project, "waiting", output=None)
    with pytest.raises(UsageError, match="no output"):
        rate(project, run.id, RatingChange(overall=parse_overall("pass")), "a@example.com")


def test_cli(project, runs, capsys):
    root = str(project.root)
    rid = runs[2].id
    assert (
        main(
            [
                "-C",
                root,
                "rate",
                rid[:8],
                "--stars",
                "5",
                "--requirement",
                "correct_command=pass",
                "--tag",
                "golden",
                "--note",
                "great",
                "--as",
                "carol@example.com",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "carol@example.com" in out and "overall 5*" in out and "correct_command pass" in out
    assert (
        main(["-C", root, "rate", rid[:8], "--pass", "--untag", "golden", "--as", "carol@example.com"]) == 0
    )
    data = _file(project, "carol@example.com", rid)
    assert data["rating"] == {"type": "pass_fail", "value": 1.0} and data["tags_added"] == []
    assert main(["-C", root, "rate", rid, "--critical", "--as", "c@example.com"]) == 0
    assert _file(project, "c@example.com", rid)["rating"] == {"type": "pass_fail_critical", "value": -1.0}
    assert main(["-C", root, "rate", rid, "--pass", "--stars", "3"]) == 2
    assert main(["-C", root, "rate", rid]) == 2
    assert main(["-C", root, "rate", rid, "--requirement", "correct_command"]) == 2
    assert main(["-C", root, "rate", rid, "--requirement", "correct_command=5"]) == 2
    assert "not a valid value" in capsys.readouterr().err
    assert main(["-C", root, "rate", rid, "--stars", "6"]) == 2
    assert main(["-C", root, "rate", rid, "--clear", "--as", "carol@example.com"]) == 0
    assert not (project.root / layout.annotation_file("ffmpeg", "carol@example.com", rid)).exists()


def test_tag_filter_agrees_with_effective_tags(project):
    """`tag::X` (which skips building tag sets) chooses exactly the runs whose effective tags hold X."""
    kept = make_run(project, "a", tags=["eval_set"])
    removed = make_run(project, "b", tags=["eval_set"])
    added = make_run(project, "c")
    added_and_removed = make_run(project, "d")
    rate(project, removed.id, RatingChange(tags_remove=("eval_set",)), "a@example.com")
    rate(project, added.id, RatingChange(tags_add=("eval_set",)), "a@example.com")
    rate(project, added_and_removed.id, RatingChange(tags_add=("eval_set",)), "a@example.com")
    rate(project, added_and_removed.id, RatingChange(tags_remove=("eval_set",)), "b@example.com")
    project = Project(project.root)
    chosen = {s.id for s in project.select("ffmpeg", "tag::eval_set")}
    assert chosen == {s.id for s in project.states("ffmpeg").values() if "eval_set" in s.tags}
    assert chosen == {kept.id, added.id}
    assert [s.id for s in project.select("ffmpeg", "all")] == sorted(project.runs("ffmpeg"))
