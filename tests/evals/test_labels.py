"""The ticket-routing task end to end: label scores read by exact_match and a code judge, exact_match against
the human reference, per-class confusion, accuracy and macro-F1 in scores, align and the report."""

from __future__ import annotations

import textwrap

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.evals.align import eval_alignment
from kilngit.evals.labels import NO_CLASS
from kilngit.evals.runner import run_eval
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.records import Eval, Judge
from tests.tickets import LABELS, TASK, TICKETS, make_tickets

CODE = '''
def route(task, input, output, label=None, reference=None):
    """Checks the answer against the human label it is given, and reads the class."""
    return {"scores": {"category": output.strip(), "correct": 1 if output.strip() == label else 0},
            "explanation": f"human says {label}, reference {reference}"}
'''


@pytest.fixture
def tickets(project):
    make_tickets(project)
    (project.root / "ticketjudge.py").write_text(textwrap.dedent(CODE))
    ev = Eval(
        name="routing",
        scores=[
            {"name": "category", "type": "label", "instruction": "Which class the answer names."},
            {"name": "correct", "instruction": "The answer is the right class.", "human_rating": "overall"},
        ],
        default_judge="exact",
        thresholds={"category": 0.7},
    )
    project.write_definition(layout.eval_file(TASK, "routing"), ev)
    project.write_definition(
        layout.judge_file(TASK, "routing", "exact"), Judge(type="exact_match", score="category")
    )
    project.write_definition(
        layout.judge_file(TASK, "routing", "reference"), Judge(type="exact_match", score="correct")
    )
    project.write_definition(
        layout.judge_file(TASK, "routing", "code"),
        Judge(type="code", function="ticketjudge:route", timeout_s=20),
    )
    run_eval(Project(project.root), TASK, "routing", progress=False)
    return Project(project.root)


def _truth_and_answers(config: str) -> list[tuple[str, str]]:
    column = 2 if config == "sharp" else 3
    return [(t[1], t[column]) for t in TICKETS]


def test_scoreboard_has_per_class_confusion(tickets):
    board = eval_scores(tickets, TASK, "routing")
    by = {g.group: g for g in board.groups}
    sloppy = by["sloppy"].scores["category"]
    pairs = _truth_and_answers("sloppy")
    assert sloppy.mean == pytest.approx(sum(t == a for t, a in pairs) / len(pairs))
    assert sloppy.labels.confusion.labels == tuple(LABELS)
    assert (
        sloppy.labels.confusion.count("billing", "bug") == 1
        and sloppy.labels.confusion.count("other", "feature_request") == 1
    )
    assert (
        by["sharp"].scores["category"].mean == 1.0 and by["sharp"].scores["category"].labels.macro_f1 == 1.0
    )
    assert by["sharp"].winner and not by["sloppy"].winner


def test_exact_match_and_code_judges_see_the_human_label_and_reference(tickets):
    ref = eval_scores(tickets, TASK, "routing", judge="reference")
    assert {g.group: g.scores["correct"].mean for g in ref.groups}["sharp"] == 1.0
    code = eval_scores(tickets, TASK, "routing", judge="code")
    by = {g.group: g for g in code.groups}
    assert by["sharp"].scores["correct"].mean == 1.0 and by["sloppy"].scores["correct"].mean == 0.5
    result = next(r for r in tickets.judge_results(TASK, "routing") if r.judge == "code")
    assert result.labels["category"] in LABELS and "human says" in result.explanation
    assert "reference " in result.explanation and "reference None" not in result.explanation


def test_align_reports_label_agreement(tickets):
    table = eval_alignment(tickets, TASK, "routing")
    exact = next(j for j in table.judges if j.judge == "exact")
    [category] = exact.scores
    assert category.labels.n == 16 and category.labels.confusion.labels[:4] == tuple(LABELS)
    wrong = sum(t != a for t, a in _truth_and_answers("sloppy"))
    assert len(category.disagreements) == wrong and isinstance(category.disagreements[0].judge, str)
    rater = next(r for r in table.raters if r.human_rating == "overall")
    assert rater.rating_type == "label" and rater.statistic == "cohen_kappa" and rater.value == 1.0


def test_output_naming_no_class(project):
    make_tickets(project)
    from kilngit.evals.judges import judge_setup
    from kilngit.evals.judges.checks import run_check

    project.write_definition(
        layout.eval_file(TASK, "routing"),
        Eval(name="r", scores=[{"name": "category", "type": "label", "instruction": "x"}]),
    )
    project.write_definition(
        layout.judge_file(TASK, "routing", "exact"), Judge(type="exact_match", score="category")
    )
    setup = judge_setup(Project(project.root), TASK, "routing", "exact")
    assert run_check(setup, " Billing. ").labels == {"category": "billing"}
    assert run_check(setup, "I think it is a refund").labels == {"category": NO_CLASS}


def test_cli_scores_align_and_report(tickets, capsys, tmp_path):
    root = str(tickets.root)
    assert main(["-C", root, "eval", "scores", "routing", "--task", TASK]) == 0
    out = capsys.readouterr().out
    assert "sloppy/category: label accuracy" in out and "macro-F1" in out
    assert main(["-C", root, "eval", "align", "routing", "--task", TASK]) == 0
    assert "exact/category: label accuracy" in capsys.readouterr().out
    assert main(["-C", root, "eval", "check", "routing", "--task", TASK, "--config", "sharp"]) == 0
    capsys.readouterr()
    assert main(["-C", root, "eval", "check", "routing", "--task", TASK, "--config", "sloppy"]) == 1
    assert main(["-C", root, "report", "--out", str(tmp_path / "site")]) == 0
    html = next((tmp_path / "site").rglob("*.html")).read_text()
    assert "macro-F1" in html and "output: billing" in html


def test_llm_judge_chooses_a_class(project, monkeypatch):
    import json

    from kilngit.testing.fake_openai import FakeOpenAI
    from tests.runner.conftest import point_provider_at

    make_tickets(project)
    project.write_definition(
        layout.eval_file(TASK, "routing"),
        Eval(
            name="r",
            scores=[{"name": "category", "type": "label", "instruction": "Which class the answer names."}],
        ),
    )
    project.write_definition(
        layout.judge_file(TASK, "routing", "llm"),
        Judge(type="llm_as_judge", provider="fake", model="gpt-4o-mini"),
    )
    seen = []

    def responder(body):
        seen.append(body["messages"][0]["content"])
        return json.dumps({"reasoning": "reads the answer", "category": "Bug"})

    with FakeOpenAI(responder=responder) as server:
        point_provider_at(monkeypatch, server)
        run_eval(Project(project.root), TASK, "routing", progress=False)
    assert 'category (exactly one of "billing", "bug", "feature_request", "other")' in seen[0]
    results = Project(project.root).judge_results(TASK, "routing")
    assert results and all(r.labels == {"category": "bug"} and not r.error for r in results)
