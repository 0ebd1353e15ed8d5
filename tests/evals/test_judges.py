"""Each judge type on single runs: code judges in a child process (crash, timeout, malformed answers), simple
checks, LLM-as-judge and G-Eval against the loopback chat-completions server."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time

import pytest

from kilngit import layout
from kilngit.evals.judges import PreparedJudge
from kilngit.evals.judges.base import parse_score_value
from kilngit.evals.judges.g_eval import NO_LOGPROBS, rating_value, weighted_scores
from kilngit.project import Project
from kilngit.providers.base import TokenLogprob
from kilngit.records import Annotation, EvalScore, Task
from kilngit.testing.fake_openai import Reply
from tests.evals.conftest import TASK, add_run, llm_judge, write_eval, write_judge


def judge_one(
    project: Project,
    judge: str,
    output: str,
    text: str = "convert a.mov to mp4",
    sample: int = 0,
    eval_slug: str = "correctness",
):
    run = add_run(project, text, output, "good")
    project = Project(project.root)
    prepared = PreparedJudge.prepare(project, TASK, eval_slug, judge, cache="off")

    async def go():
        try:
            return await prepared.judge(project.states(TASK)[run.id], sample)
        finally:
            await prepared.aclose()

    return asyncio.run(go())


# ---------------------------------------------------------------- code judges


def test_code_judge_scores_and_keeps_extra_scores_aside(eval_project):
    verdict = judge_one(eval_project, "exec", "ffmpeg -i a.mov a.mp4")
    assert verdict.error is None
    assert verdict.scores == {"correct": 1.0}
    assert verdict.explanation == "starts with ffmpeg"
    assert verdict.details == {"other_scores": {"runs": 1}}


@pytest.mark.parametrize(
    "function, expected",
    [
        ("crash", "crash: RuntimeError: judge bug"),
        ("die", "crash: judgelib.simple:die ended without an answer (exit code 3)"),
        ("wrong_type", "malformed: judgelib.simple:wrong_type returned str"),
        ("out_of_range", "malformed: score 'correct' = 7 is not a pass_fail value"),
    ],
)
def test_code_judge_failures_are_errors_not_scores(eval_project, function, expected):
    write_judge(eval_project, "broken", type="code", function=f"judgelib.simple:{function}")
    verdict = judge_one(eval_project, "broken", "ffmpeg -i a.mov a.mp4")
    assert verdict.error.startswith(expected)
    assert verdict.scores == {}


def test_code_judge_timeout_kills_it(eval_project):
    write_judge(eval_project, "slow", type="code", function="judgelib.simple:hang", timeout_s=0.5)
    start = time.monotonic()
    verdict = judge_one(eval_project, "slow", "ffmpeg -i a.mov a.mp4")
    assert time.monotonic() - start < 60  # a hang guard: the judge sleeps forever unless killed
    assert verdict.error == "timeout: judgelib.simple:hang took longer than 0.5s"
    assert verdict.details == {"kind": "timeout"}


def test_code_judge_timeout_kills_the_processes_it_started(eval_project):
    write_judge(eval_project, "spawner", type="code", function="judgelib.simple:spawn_and_hang", timeout_s=1)
    mark = f"{time.time_ns() % 10**9}.5"  # unique `sleep` argument
    assert judge_one(eval_project, "spawner", mark).error.startswith("timeout")
    assert processes_with(["sleep", mark]) == []  # both, the one in a new session too: the sandbox is gone


def processes_with(argv: list[str]) -> list[int]:
    """Live processes of this machine running exactly `argv`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                alive = f.read().split(b"\0")[:-1] == [a.encode() for a in argv]
            with open(f"/proc/{entry}/stat") as f:
                alive = alive and f.read().split(")")[-1].split()[0] != "Z"
        except (OSError, ValueError):
            continue
        if alive:
            found.append(int(entry))
    return found


def test_code_judge_printing_to_stdout_does_not_corrupt_its_answer(eval_project):
    write_judge(eval_project, "noisy", type="code", function="judgelib.simple:noisy")
    assert judge_one(eval_project, "noisy", "anything").scores == {"correct": 1.0}


def test_code_judge_missing_module_is_a_recorded_crash(eval_project):
    write_judge(eval_project, "ghost", type="code", function="nowhere.at_all:judge")
    assert judge_one(eval_project, "ghost", "x").error.startswith("crash: ModuleNotFoundError")


# ---------------------------------------------------------------- simple checks


@pytest.mark.parametrize(
    "fields, output, score",
    [
        ({"type": "regex", "pattern": r"\.mp4$"}, "ffmpeg -i a.mov a.mp4", 1.0),
        ({"type": "regex", "pattern": r"\.mp4$"}, "ffmpeg -i a.mov a.mkv", 0.0),
        ({"type": "contains", "pattern": "FFMPEG", "case_sensitive": False}, "ffmpeg -i a b", 1.0),
        ({"type": "contains", "pattern": "FFMPEG"}, "ffmpeg -i a b", 0.0),
        ({"type": "not_contains", "pattern": "rm "}, "rm -rf /", 0.0),
        ({"type": "not_contains", "pattern": "rm "}, "ffmpeg -i a b", 1.0),
        ({"type": "exact_match", "pattern": "ffmpeg -i a.mov a.mp4"}, "  ffmpeg -i a.mov a.mp4\n", 1.0),
        ({"type": "valid_json"}, '{"a": 1}', 1.0),
        ({"type": "valid_json"}, "{a: 1}", 0.0),
    ],
)
def test_simple_checks(eval_project, fields, output, score):
    write_judge(eval_project, "check", score="correct", **fields)
    verdict = judge_one(eval_project, "check", output)
    assert verdict.error is None
    assert verdict.scores == {"correct": score}


def test_exact_match_compares_with_the_repaired_output(eval_project):
    write_judge(eval_project, "same", type="exact_match", score="correct")
    assert judge_one(eval_project, "same", "ffmpeg -i a b").error.startswith("exact_match has no pattern")
    run = add_run(eval_project, "repair me", "ffmpeg -i a b", "good")
    eval_project.write_record(
        Annotation(task=TASK, run=run.id, rater="alice@example.com", repaired_output="ffmpeg -i a c")
    )
    assert judge_one(eval_project, "same", "ffmpeg -i a b", text="repair me").scores == {"correct": 0.0}


def test_matches_schema_uses_the_task_output_schema(eval_project):
    write_judge(eval_project, "schema", type="matches_schema", score="correct")
    assert "output_schema" in judge_one(eval_project, "schema", "{}").error
    task = eval_project.task(TASK)
    schema = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
    eval_project.write_definition(
        layout.task_file(TASK), Task(**{**task.model_dump(), "output_schema": schema})
    )
    assert judge_one(eval_project, "schema", '{"command": "ffmpeg"}').scores == {"correct": 1.0}
    wrong = judge_one(eval_project, "schema", '{"cmd": 1}')
    assert wrong.scores == {"correct": 0.0} and "command" in wrong.explanation


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        ("pass", "pass_fail", 1.0),
        (" 'FAIL' ", "pass_fail", 0.0),
        ("critical", "pass_fail", None),
        ("critical", "pass_fail_critical", -1.0),
        ("4", "five_star", 4.0),
        (3.5, "five_star", 3.5),
        (6, "five_star", None),
        (True, "pass_fail", 1.0),
        (True, "five_star", None),
        ("maybe", "pass_fail", None),
        (float("nan"), "pass_fail", None),
    ],
)
def test_parse_score_value(value, kind, expected):
    assert parse_score_value(value, kind) == expected


# ---------------------------------------------------------------- LLM as judge


def test_llm_judge_agrees_disagrees_and_keeps_reasoning(eval_project, judge_server):
    llm_judge(eval_project, instructions="Be strict.", knowledge="ffmpeg -t sets a duration.")
    good = judge_one(eval_project, "llm", "ffmpeg -i a.mov a.mp4")
    bad = judge_one(eval_project, "llm", "rm -rf /")
    assert good.scores == {"correct": 1.0} and bad.scores == {"correct": 0.0}
    assert good.reasoning == "looked at 'ffmpeg -i a.mov a.mp'"
    assert good.usage is not None and good.usage.input_tokens > 0
    system = judge_server.requests[0].body["messages"][0]["content"]
    assert "Be strict." in system and "ffmpeg -t sets a duration." in system and '"correct": "pass"' in system


@pytest.mark.parametrize(
    "answer, error",
    [
        ("I think it passes.", "malformed: no JSON object"),
        ('{"reasoning": "ok", "correct": "perhaps"}', "malformed: score 'correct' = 'perhaps'"),
        ('{"reasoning": "ok"}', "malformed: the judge gave none of the eval's scores"),
        ('{"reasoning": "ok", "correct": ', "malformed: no JSON object"),
    ],
)
def test_llm_judge_malformed_answers_are_errors(eval_project, judge_server, answer, error):
    llm_judge(eval_project)
    judge_server.script["script"] = lambda body: answer
    verdict = judge_one(eval_project, "llm", "ffmpeg -i a b")
    assert verdict.error.startswith(error) and verdict.scores == {}


def test_llm_judge_refusal_and_truncation(eval_project, judge_server):
    llm_judge(eval_project)
    judge_server.script["script"] = lambda body: Reply(content=None, refusal="I can't judge this.")
    assert judge_one(eval_project, "llm", "x").error == "refused: I can't judge this."
    judge_server.script["script"] = lambda body: Reply(content='{"reasoning": "long', finish_reason="length")
    assert judge_one(eval_project, "llm", "x").error.endswith("(the answer was cut off by max_tokens)")


def test_llm_judge_reads_code_fenced_json(eval_project, judge_server):
    llm_judge(eval_project)
    judge_server.script["script"] = lambda body: (
        'Sure:\n```json\n{"reasoning": "fine", "correct": "PASS"}\n```'
    )
    assert judge_one(eval_project, "llm", "x").scores == {"correct": 1.0}


def test_llm_judge_samples_send_their_own_seed(eval_project, judge_server):
    llm_judge(eval_project)
    judge_one(eval_project, "llm", "x", sample=0)
    judge_one(eval_project, "llm", "x", sample=2)
    seeds = [r.body.get("seed") for r in judge_server.requests]
    assert seeds == [None, 2]


# ---------------------------------------------------------------- G-Eval


def _lp(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    return {"token": token, "logprob": logprob, "top_logprobs": [{"token": t, "logprob": p} for t, p in top]}


def test_g_eval_weights_scores_by_token_probabilities(eval_project, judge_server):
    llm_judge(eval_project, "geval", type="g_eval", top_logprobs=5)
    tokens = [
        _lp('{"', -0.01, []),
        _lp("reasoning", -0.01, []),
        _lp('":"', -0.01, []),
        _lp('about \\"correct\\": right', -0.01, []),
        _lp('","', -0.01, []),
        _lp("correct", -0.01, []),
        _lp('":"', -0.01, []),
        _lp(
            "pass",
            math.log(0.7),
            [("pass", math.log(0.7)), ("fail", math.log(0.2)), ("maybe", math.log(0.1))],
        ),
        _lp('"}', -0.01, []),
    ]
    content = "".join(t["token"] for t in tokens)
    judge_server.script["script"] = lambda body: Reply(content=content, logprobs=tokens)
    verdict = judge_one(eval_project, "geval", "ffmpeg -i a b")
    assert verdict.error is None
    assert verdict.scores["correct"] == pytest.approx(0.7 / 0.9)
    assert verdict.details["method"] == "g_eval"
    assert verdict.details["probabilities"]["correct"] == {
        "fail": pytest.approx(0.2 / 0.9, abs=1e-6),
        "pass": pytest.approx(0.7 / 0.9, abs=1e-6),
    }
    request = judge_server.requests[0].body
    assert request["logprobs"] is True and request["top_logprobs"] == 5


def test_g_eval_without_logprobs_falls_back_with_a_reason(eval_project, judge_server):
    llm_judge(eval_project, "geval", type="g_eval")
    answer = json.dumps({"reasoning": "fine", "correct": "fail"})
    judge_server.script["script"] = lambda body: {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": answer},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    verdict = judge_one(eval_project, "geval", "ffmpeg -i a b")
    assert verdict.scores == {"correct": 0.0}
    assert verdict.details == {"method": "fallback", "fallback": {"correct": NO_LOGPROBS}}


def test_g_eval_synthesized_logprobs_without_alternatives_give_the_stated_value(eval_project, judge_server):
    llm_judge(eval_project, "geval", type="g_eval")
    verdict = judge_one(eval_project, "geval", "rm -rf /")
    assert verdict.scores == {"correct": 0.0}
    assert verdict.details["probabilities"] == {"correct": {"fail": 1.0}}


def test_weighted_scores_handle_split_tokens_and_several_scores():
    scores = [
        EvalScore(name="stars", type="five_star", instruction="x"),
        EvalScore(name="safe", type="pass_fail_critical", instruction="y"),
    ]
    tokens = (
        TokenLogprob('{"stars": ', 0.0),
        TokenLogprob("4", math.log(0.5), (("4", math.log(0.5)), ("5", math.log(0.5)))),
        TokenLogprob(', "safe": "', 0.0),
        TokenLogprob("crit", math.log(0.6), (("crit", math.log(0.6)), ("pass", math.log(0.4)))),
        TokenLogprob('ical"}', 0.0),
    )
    weighted = weighted_scores(tokens, scores)
    assert weighted["stars"].value == pytest.approx(4.5)
    assert weighted["safe"].value == pytest.approx(-0.6 + 0.4)
    assert rating_value("P", "pass_fail") == 1.0 and rating_value("c", "pass_fail") is None


def test_knowledge_file_is_read_and_must_exist(eval_project, judge_server):
    (eval_project.root / "manual.txt").write_text("-ss seeks before the input")
    llm_judge(eval_project, knowledge_file="manual.txt")
    judge_one(eval_project, "llm", "ffmpeg -i a b")
    assert "-ss seeks before the input" in judge_server.requests[0].body["messages"][0]["content"]
    llm_judge(eval_project, "llm2", knowledge_file="missing.txt")
    from kilngit.errors import NotFoundError

    with pytest.raises(NotFoundError, match="missing.txt"):
        PreparedJudge.prepare(Project(eval_project.root), TASK, "correctness", "llm2")


def test_judge_of_a_five_star_eval(eval_project, judge_server):
    write_eval(
        eval_project, "quality", scores=[{"name": "stars", "type": "five_star", "instruction": "How good?"}]
    )
    llm_judge(eval_project, "stars", eval_slug="quality")
    judge_server.script["script"] = lambda body: '{"reasoning": "good", "stars": 4}'
    assert judge_one(eval_project, "stars", "ffmpeg", eval_slug="quality").scores == {"stars": 4.0}
