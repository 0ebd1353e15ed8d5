"""The example project's evals: every LLM-judge answer is recorded (the main job replays them offline), and the
cheap judges agree with the people as the README says. The execution judge is left to tests/example (it runs
ffmpeg 120 times)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from kilngit.evals.align import eval_alignment
from kilngit.evals.judges import PreparedJudge
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import JudgeResult

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
TASK = "nl-to-ffmpeg"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A copy of the example project, judged by every judge but the execution judge (answers replayed)."""
    root = tmp_path_factory.mktemp("example") / "project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("results", ".kilngit"))
    project = Project(root)
    with pytest.MonkeyPatch.context() as env:  # module scope: before the per-test environment applies
        env.setenv("KILNGIT_TRUST", "always")  # our own copy of the example: trusted on purpose
        for eval_slug, judges in (("correctness", ["llm"]), ("no-destructive", None), ("prefers-mp4", None)):
            summary = run_eval(project, TASK, eval_slug, judges=judges or (), cache="replay", progress=False)
            assert not summary.fatal, summary.fatal
            for name, t in summary.judges.items():
                assert (name, t.scored, dict(t.errors), dict(t.not_recorded)) == (name, 120, {}, {})
    return Project(root)


def test_every_llm_judge_answer_is_recorded(example):
    assert len(list((EXAMPLE / "recordings").rglob("*.json"))) >= 119 * 3
    assert {j.judge for j in eval_alignment(example, TASK, "prefers-mp4").judges} == {
        "container",
        "llm",
        "mp4-regex",
    }


def kappa(project: Project, eval_slug: str, judge: str) -> float:
    table = eval_alignment(project, TASK, eval_slug)
    return next(j for j in table.judges if j.judge == judge).scores[0].report.cohen_kappa


def test_the_naive_regex_judge_is_visibly_worse(example):
    assert kappa(example, "prefers-mp4", "mp4-regex") < 0.3 < 0.6 < kappa(example, "prefers-mp4", "llm")
    assert kappa(example, "no-destructive", "policy") > 0.9


def test_two_raters_agreement_is_reported(example):
    raters = eval_alignment(example, TASK, "correctness").raters[0]
    assert raters.statistic == "cohen_kappa" and raters.raters == ["alice@example.com", "bob@example.com"]
    assert raters.items == 60 and len(raters.disagreements) == 5


def test_grounded_judge_replays_for_either_execution_verdict(example):
    """The grounded judge reads the execution judge's scores; its answers are recorded for both, so the main job
    replays whatever ffmpeg does on the machine at hand."""
    judge = PreparedJudge.prepare(example, TASK, "correctness", "grounded", cache="replay")
    states = sorted(example.states(TASK).values(), key=lambda s: s.id)
    golden = [s for s in states if "golden" in s.tags][:4]

    async def go() -> list:
        out = []
        for state in golden:
            for value in (0.0, 1.0):
                evidence = {
                    "exec": JudgeResult(
                        task=TASK,
                        eval="correctness",
                        judge="exec",
                        judge_hash="x",
                        run=state.id,
                        scores={"correct": value},
                    ).with_id()
                }
                out.append((value, await judge.judge(state, 0, evidence)))
        await judge.aclose()
        return out

    for value, verdict in asyncio.run(go()):
        assert verdict.error is None and set(verdict.details["evidence"]) == {"exec"}
        if value == 0.0:
            assert verdict.scores == {"correct": 0.0}
