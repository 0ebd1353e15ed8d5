"""Label ratings and reference answers: the records, the consensus, rating from the CLI, validation."""

from __future__ import annotations

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.errors import UsageError
from kilngit.project import Project
from kilngit.records import Annotation, Rating, Requirement, Task
from kilngit.review.rating import RatingChange, rate
from kilngit.validate import validate_project
from tests.tickets import LABELS, TASK, make_tickets


def test_label_rating_shape():
    assert Rating(type="label", label="bug").model_dump(exclude_none=True) == {
        "type": "label",
        "label": "bug",
    }
    with pytest.raises(ValueError, match="needs label"):
        Rating(type="label", value=1.0)
    with pytest.raises(ValueError, match="not a label"):
        Rating(type="pass_fail", value=1.0, label="bug")
    with pytest.raises(ValueError, match="at least two"):
        Requirement(name="x", instruction="i", type="label", labels=["only"])
    with pytest.raises(ValueError, match="set type: label"):
        Task(name="t", instruction="i", labels=["a", "b"])


def test_old_ratings_keep_their_bytes(project):
    a = Annotation(
        task="ffmpeg",
        run="0123456789abcdef",
        rater="x@example.com",
        rating=Rating(type="pass_fail", value=1.0),
    )
    assert b'"label"' not in a.to_bytes() and b'"reference"' not in a.to_bytes()


def test_label_consensus_and_disputes(project):
    runs = make_tickets(project, raters=("ana@example.com", "ben@example.com", "cy@example.com"))
    project = Project(project.root)
    run = runs["sharp"][0]
    state = project.states(TASK)[run.id]
    assert (state.rating.type, state.rating.label, state.rating.disputed) == ("label", "billing", False)
    assert state.reference == "billing"
    rate(project, run.id, RatingChange(label="other"), rater="cy@example.com")
    state = Project(project.root).states(TASK)[run.id]
    assert state.rating.label == "billing" and not state.rating.disputed  # 2 of 3 is a majority
    rate(project, run.id, RatingChange(label="bug"), rater="ben@example.com")
    state = Project(project.root).states(TASK)[run.id]
    assert state.rating.label is None and state.disputed
    project = Project(project.root)
    bugs = {s.id for s in project.select(TASK, "label::bug")}
    assert bugs and all(project.states(TASK)[i].rating.label == "bug" for i in bugs)
    assert run.id not in bugs  # disputed: no consensus label


def test_overall_type_is_enforced(project):
    runs = make_tickets(project)
    run = runs["sharp"][1]
    with pytest.raises(UsageError, match="rated label, not pass_fail"):
        rate(
            project,
            run.id,
            RatingChange(overall=Rating(type="pass_fail", value=1.0)),
            rater="ana@example.com",
        )
    with pytest.raises(UsageError, match="not a class"):
        rate(project, run.id, RatingChange(label="billingg"), rater="ana@example.com")
    # A hand-edited file with the wrong type is a validation error naming the field.
    bad = Annotation(
        task=TASK, run=run.id, rater="zed@example.com", rating=Rating(type="five_star", value=4.0)
    )
    project.write_record(bad)
    report = validate_project(project.root)
    [problem] = [p for p in report.problems if p.severity == "error"]
    assert problem.path == layout.annotation_file(TASK, "zed@example.com", run.id)
    assert "rated label, not five_star" in problem.message and problem.pointer == "/rating/type"


def test_rate_and_task_new_from_the_cli(project, capsys):
    root = str(project.root)
    assert (
        main(
            [
                "-C",
                root,
                "task",
                "new",
                "tickets",
                "--instruction",
                "Route the ticket",
                "--rating-type",
                "label",
                "--labels",
                ",".join(LABELS),
                "--requirement",
                "tone:label(calm|angry)=How it reads",
            ]
        )
        == 0
    )
    task = Project(root).task("tickets")
    assert (
        task.rating_type == "label"
        and task.labels == LABELS
        and task.requirements[0].labels == ["calm", "angry"]
    )
    assert main(["-C", root, "task", "new", "bad", "--instruction", "x", "--rating-type", "label"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["-C", root, "add", "run", "tickets", "--input", "charged twice", "--output", "billing"]) == 0
    run_id = capsys.readouterr().out.strip()
    assert (
        main(
            [
                "-C",
                root,
                "rate",
                run_id,
                "--label",
                "billing",
                "--requirement",
                "tone=angry",
                "--reference",
                "billing",
                "--as",
                "ana@example.com",
            ]
        )
        == 0
    )
    assert "overall billing; tone angry" in capsys.readouterr().out
    assert main(["-C", root, "rate", run_id, "--pass", "--as", "ana@example.com"]) == 2
    assert "rated label, not pass_fail" in capsys.readouterr().err
    assert main(["-C", root, "show", run_id]) == 0
    out = capsys.readouterr().out
    assert "consensus: overall billing, tone angry" in out and "reference billing" in out
    assert main(["-C", root, "validate"]) == 0
