"""`kilngit audit`: Dawid-Skene, how labels were made, the ranking on a synthetic project with planted wrong
labels (recall and precision printed), the CLI formats, the re-review queue, and the report and review."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from kilngit import layout
from kilngit.cli.main import cli, main
from kilngit.evals.audit import audit_eval
from kilngit.evals.audit_em import dawid_skene
from kilngit.project import Project
from kilngit.report import report_sections
from kilngit.review.diff import review
from tests.conftest import git
from tests.evals.audit_synthetic import EVAL, TASK, build, score


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return build(tmp_path_factory.mktemp("audit") / "proj")


@pytest.fixture
def synthetic_copy(synthetic, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(synthetic.project.root, root, symlinks=True)
    return Project(root)


def test_dawid_skene_finds_the_unreliable_annotator():
    classes = ["fail", "pass"]
    truth = [i % 3 != 0 for i in range(60)]
    labels = {}
    for i, good in enumerate(truth):
        right, wrong = ("pass", "fail") if good else ("fail", "pass")
        labels[f"r{i}"] = {
            "a": {right: 1.0},
            "b": {right if i % 10 else wrong: 1.0},
            "c": {right if i % 5 else wrong: 1.0},
            "flipper": {wrong if i % 4 else right: 1.0},
        }
    ds = dawid_skene(labels, classes)
    assert ds.reliability("a") > 0.85 and ds.reliability("flipper") < 0.35
    right = sum(
        max(ds.posterior[f"r{i}"], key=ds.posterior[f"r{i}"].get) == ("pass" if g else "fail")
        for i, g in enumerate(truth)
    )
    assert right >= 54  # 90%, from labels none of which is taken as truth (majority vote: 51)
    assert ds.posterior_from({"flipper": {"pass": 1.0}})["fail"] > 0.5  # its pass is evidence of fail


def test_synthetic_recall_and_precision(synthetic, capsys):
    report = audit_eval(synthetic.project, None, EVAL)
    flagged = [s.run for s in report.suspects if s.consensus is not None]
    recall, precision = score(flagged, synthetic.planted)
    top = [s.run for s in report.items if s.consensus is not None][: len(synthetic.planted)]
    top_recall, _ = score(top, synthetic.planted)
    with capsys.disabled():
        print(
            f"\naudit on the synthetic project: {len(synthetic.planted)} planted wrong labels of {report.golden}; "
            f"P(wrong) >= 0.5: recall {recall:.2f}, precision {precision:.2f}; top-{len(top)}: recall "
            f"{top_recall:.2f}"
        )
    assert recall >= 0.8 and precision >= 0.8 and top_recall >= 0.8
    disputed = {s.run for s in report.suspects if s.consensus is None}
    assert disputed <= synthetic.disputed
    assert {a.name: a.kind for a in report.annotators}["exec"] == "execution"


def test_reasons_say_how_the_label_was_made(synthetic):
    report = audit_eval(synthetic.project, None, EVAL)
    by_run = {s.run: s for s in report.items}
    bob_burst = [s for s in report.suspects if s.labels == {"bob@example.com": "pass"}]
    assert bob_burst and all({"burst", "fast"} <= {r.kind for r in s.reasons} for s in bob_burst)
    burst = next(r for r in bob_burst[0].reasons if r.kind == "burst")
    assert (
        burst.numbers["size"] == 30
        and burst.numbers["mean_gap_s"] == 1.0
        and "identical 'pass'" in burst.text
    )
    fast = next(r for r in bob_burst[0].reasons if r.kind == "fast")
    assert fast.numbers["seconds"] == 0.8 and "0.8 s on screen" in fast.text
    carol = [s for s in report.suspects if "carol@example.com" in s.labels]
    assert carol and all(any(r.kind == "groups" for r in s.reasons) for s in carol)
    assert "follow the session" in next(r.text for r in carol[0].reasons if r.kind == "groups")
    execution = [r for s in report.suspects for r in s.reasons if r.kind == "execution"]
    assert execution and execution[0].text.startswith("execution judge exec says")
    assert all(s.reasons for s in report.suspects) and len(by_run) == report.golden


def test_cli_formats(synthetic, capsys):
    runner = CliRunner()
    root = str(synthetic.project.root)
    table = runner.invoke(cli, ["-C", root, "audit", EVAL, "--limit", "3"])
    assert table.exit_code == 0, table.output
    assert "suspect label(s) of 120 golden item(s)" in table.output and "est. reliability" in table.output
    data = json.loads(runner.invoke(cli, ["-C", root, "audit", EVAL, "--format", "json"]).output)
    assert data["golden"] == 120 and data["items"][0]["p_wrong"] >= data["items"][-1]["p_wrong"]
    assert {"run", "p_wrong", "p_judges", "reasons", "labels", "likely"} <= set(data["items"][0])
    markdown = runner.invoke(cli, ["-C", root, "audit", EVAL, "--format", "markdown", "--limit", "2"]).output
    assert markdown.startswith("## Label audit:") and markdown.count("\n| `") == 2
    assert main(["-C", root, "audit", "nope"]) == 1
    assert "has no eval 'nope'" in capsys.readouterr().err


def test_queue_and_label_audit_write_new_annotations(synthetic_copy):
    root = synthetic_copy.root
    runner = CliRunner()
    made = runner.invoke(cli, ["-C", str(root), "audit", EVAL, "--queue", "--limit", "1"])
    assert made.exit_code == 0 and "queued" in made.output and "kilngit label --audit" in made.output
    queue = json.loads((root / layout.LOCAL_STATE / "audit" / f"{TASK}.json").read_text())
    first = queue["runs"][0]
    before = {p: p.read_bytes() for p in (root / "tasks" / TASK / "annotations").rglob("*.json")}
    walked = runner.invoke(
        cli, ["-C", str(root), "label", "--audit", "--as", "dana@example.com"], input="f\nq\n"
    )
    assert walked.exit_code == 0, walked.output
    assert (
        "suspect run(s) to label as dana@example.com" in walked.output
        and "P(consensus wrong)" in walked.output
    )
    mine = root / layout.annotation_file(TASK, "dana@example.com", first)
    assert json.loads(mine.read_text())["rating"]["value"] == 0.0
    after = {p: p.read_bytes() for p in (root / "tasks" / TASK / "annotations").rglob("*.json") if p != mine}
    assert after == before  # nobody else's label was touched
    again = runner.invoke(cli, ["-C", str(root), "label", "--audit", "--as", "dana@example.com"], input="q\n")
    assert f"{len(queue['runs']) - 1} suspect run(s)" in again.output  # the reviewed one is done


def test_label_audit_without_a_queue(synthetic_copy, capsys):
    assert main(["-C", str(synthetic_copy.root), "label", "--audit", "--as", "x@example.com"]) == 1
    assert "kilngit audit EVAL --queue" in capsys.readouterr().err


def test_report_and_review_show_suspects(synthetic_copy):
    root = synthetic_copy.root
    sections = [s for s in report_sections(synthetic_copy) if s.id == f"audit-{TASK}-{EVAL}"]
    assert len(sections) == 1 and "golden labels are suspect" in sections[0].html
    git(root, "add", "-A")
    git(root, "commit", "-qm", "synthetic")
    suspect = audit_eval(synthetic_copy, None, EVAL).suspects[0]
    rater = next(iter(suspect.labels))
    path = root / layout.annotation_file(TASK, rater, suspect.run)
    data = json.loads(path.read_text())
    data["note"] = "looked again"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    git(root, "commit", "-qam", "note")
    result = review(root, "HEAD~1...HEAD")
    assert any(s.run == suspect.run and s.changed for s in result.suspects)
    assert result.audits[0].suspects == len(audit_eval(synthetic_copy, None, EVAL).suspects)
    text = (
        CliRunner().invoke(cli, ["-C", str(root), "review", "HEAD~1...HEAD", "--format", "markdown"]).output
    )
    assert "Suspect golden labels" in text and "rated in this range" in text


def test_audit_of_a_label_score(project):
    """A classification task (label ratings): classes are the label names; the judge's disagreement with a
    wrong class is reported."""
    from kilngit.evals.runner import run_eval
    from kilngit.records import Annotation, Eval, Judge, Rating
    from tests.tickets import LABELS, make_tickets

    runs = make_tickets(project)
    ev = Eval(
        name="routing",
        scores=[
            {"name": "category", "type": "label", "instruction": "Which class.", "human_rating": "overall"}
        ],
        default_judge="exact",
    )
    project.write_definition(layout.eval_file("tickets", "routing"), ev)
    project.write_definition(
        layout.judge_file("tickets", "routing", "exact"), Judge(type="exact_match", score="category")
    )
    run_eval(Project(project.root), "tickets", "routing", progress=False)
    sharp = runs["sharp"][0]
    truth = next(a.rating.label for a in Project(project.root).annotations("tickets") if a.run == sharp.id)
    wrong = next(c for c in LABELS if c != truth)
    for rater in ("ana@example.com", "ben@example.com"):
        project.write_record(
            Annotation(task="tickets", run=sharp.id, rater=rater, rating=Rating(type="label", label=wrong))
        )
    report = audit_eval(Project(project.root), "tickets", "routing")
    assert report.classes == list(LABELS) and report.golden == len(runs["sharp"]) * 2
    mine = next(s for s in report.items if s.run == sharp.id)
    # Two raters agreeing outweigh one judge that is often wrong here (it reads the class the answer names,
    # and half the answers are sloppy), but the judges' side is shown in numbers and words.
    assert mine.consensus == wrong and mine.p_judges > 0.5
    assert {r.kind for r in mine.reasons} == {"judges", "execution"}
    assert f"says {truth!r}" in next(r.text for r in mine.reasons if r.kind == "execution")
