"""The judge-type table and registry: a new type is declared and registered in one place, then validated,
listed in the schema and run by `run eval` like a built-in one."""

from __future__ import annotations

import pytest

from kilngit.cli.main import main
from kilngit.evals.judges import Item, JudgeTypeSpec, Verdict, judge_type
from kilngit.evals.judges.registry import forget_judge_type, judge_factory
from kilngit.evals.results import eval_results
from kilngit.project import Project
from kilngit.records import Judge
from kilngit.records.judge_types import JUDGE_TYPES
from kilngit.schema import json_schemas
from tests.evals.conftest import TASK, write_judge


@pytest.fixture
def short_type():
    """A toy type: pass when the output has at most `pattern` characters."""

    @judge_type(JudgeTypeSpec("short", needs=("score", "pattern")))
    class Short:
        def __init__(self, setup, project, cache) -> None:
            self.setup = setup

        async def judge(self, item: Item) -> Verdict:
            passed = len(item.output) <= int(self.setup.judge.pattern)
            return Verdict({self.setup.judge.score: float(passed)}, f"{len(item.output)} characters")

        async def aclose(self) -> None:
            pass

    yield "short"
    forget_judge_type("short")


def test_a_new_type_runs_through_run_eval(eval_project, short_type, capsys):
    write_judge(eval_project, "brief", type="short", score="correct", pattern="16")
    root = str(eval_project.root)
    assert main(["-C", root, "validate"]) == 0, capsys.readouterr().err
    assert main(["-C", root, "run", "eval", "correctness", "--judge", "brief"]) == 0, capsys.readouterr().err
    results = eval_results(Project(eval_project.root), TASK, "correctness")
    verdicts = results.current["brief"]
    assert len(verdicts) == 12
    scores = {v.scored()[0].explanation: v.scores()["correct"] for v in verdicts.values()}
    assert scores["7 characters"] == 1.0 and scores["21 characters"] == 0.0
    assert "short" in json_schemas()["judge"]["properties"]["type"]["enum"]
    with pytest.raises(ValueError, match="a short judge needs pattern"):
        Judge(type="short", score="correct")


def test_an_unknown_type_is_refused_with_the_closest_name(eval_project, capsys):
    path = eval_project.root / "tasks" / TASK / "evals" / "correctness" / "judges" / "typo.yaml"
    path.write_text("kind: judge\ntype: regx\nscore: correct\npattern: ffmpeg\n")
    assert main(["-C", str(eval_project.root), "validate"]) == 1
    out = capsys.readouterr().out
    assert "typo.yaml" in out and "unknown judge type 'regx'; did you mean 'regex'?" in out


def test_fields_of_one_type_are_refused_on_another():
    with pytest.raises(ValueError, match="evidence is for grounded judges"):
        Judge(type="contains", score="correct", pattern="x", evidence=["exec"])


def test_every_declared_type_has_a_judge_and_the_schema_lists_them():
    for name in JUDGE_TYPES:
        assert callable(judge_factory(name))
    assert json_schemas()["judge"]["properties"]["type"]["enum"] == list(JUDGE_TYPES)
