"""Prompt building and answer checks: few-shot from rated runs, chain of thought, structured output."""

from __future__ import annotations

import json

from kilngit.authoring import add_run
from kilngit.providers.mock import ScriptedProvider, last_user_text
from kilngit.records import Annotation, FewShot, Rating, Source
from kilngit.runner import RunInput, load_plan, run_inputs
from kilngit.runner.prompts import FINAL_ANSWER_DELIMITER, FINAL_ANSWER_REQUEST
from kilngit.testing.fake_openai import Reply
from tests.runner.conftest import add_config, add_prompt, set_output_schema

SRC = Source(type="file_import", file="x.jsonl")
SCHEMA = {
    "type": "object",
    "properties": {"command": {"type": "string", "pattern": "^ffmpeg "}},
    "required": ["command"],
    "additionalProperties": False,
}


def rate(project, run_id: str, value: float, repaired: str | None = None) -> None:
    project.write_record(
        Annotation(
            task="ffmpeg",
            run=run_id,
            rater="ann@example.com",
            rating=Rating(type="pass_fail", value=value),
            repaired_output=repaired,
        )
    )


def run(project, texts, provider=None, **options):
    return run_inputs(
        project,
        "ffmpeg",
        "fake",
        [RunInput(t, SRC) for t in texts],
        provider=provider,
        progress=False,
        **options,
    )


def test_few_shot_uses_rated_runs_but_never_the_input_itself(project):
    good = [add_run(project, "ffmpeg", f"example {i}", output=f"ffmpeg {i}") for i in range(4)]
    bad = add_run(project, "ffmpeg", "bad example", output="rm -rf /")
    first = min(good, key=lambda r: r.id)
    for r in good:
        rate(project, r.id, 1.0, repaired="ffmpeg fixed" if r is first else None)
    rate(project, bad.id, 0.0)
    add_prompt(project, "fewshot", few_shot=FewShot(count=2))
    add_config(project, prompt="fewshot")
    plan = load_plan(project, "ffmpeg", "fake")
    shown = plan.examples_for("new request")
    assert len(shown) == 2 and all(e.input.startswith("example") for e in shown)
    expected = sorted(good, key=lambda r: r.id)
    assert [e.input for e in shown] == [r.input for r in expected[:2]]
    assert [e.input for e in plan.examples_for(expected[0].input)] == [r.input for r in expected[1:3]]
    assert "ffmpeg fixed" in [e.output for e in plan.examples]  # the repair wins over the original
    messages = plan.first_call("new request").messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"] == "new request"


def test_two_step_chain_of_thought_keeps_reasoning(project):
    add_prompt(project, "cot", chain_of_thought=True, thinking_instruction="Think about containers.")
    add_config(project, prompt="cot")
    provider = ScriptedProvider(
        lambda req: (
            "ffmpeg -i a b"
            if req.messages[-1]["content"] == FINAL_ANSWER_REQUEST
            else "mp4 is the safe default"
        )
    )
    summary = run(project, ["convert a"], provider)
    (result,) = summary.new_runs
    assert result.reasoning == "mp4 is the safe default" and result.output == "ffmpeg -i a b"
    first, second = provider.requests
    assert "Think about containers." in first.messages[0]["content"]
    assert second.messages[-2] == {"role": "assistant", "content": "mp4 is the safe default"}
    assert result.usage.output_tokens == 5 + 4


def test_one_step_chain_of_thought_splits_at_the_delimiter(project):
    add_prompt(project, "cot1", chain_of_thought=True, chain_of_thought_style="one_step")
    add_config(project, prompt="cot1")
    provider = ScriptedProvider(
        lambda req: (
            f"because mp4\n{FINAL_ANSWER_DELIMITER}\nffmpeg -i a a.mp4"
            if "good" in last_user_text(req)
            else "no delimiter here"
        )
    )
    summary = run(project, ["good one", "bad one"], provider)
    runs = {r.input: r for r in summary.new_runs}
    assert runs["good one"].reasoning == "because mp4" and runs["good one"].output == "ffmpeg -i a a.mp4"
    assert runs["bad one"].error.type == "malformed"
    assert FINAL_ANSWER_DELIMITER in provider.requests[0].messages[0]["content"]


def test_structured_output_json_schema_valid_invalid_malformed(project, srv):
    set_output_schema(project, SCHEMA)
    add_config(project)
    answers = {
        "good": '{"command": "ffmpeg -i a b"}',
        "wrong": '{"command": "rm -rf /"}',
        "prose": "Sure! ffmpeg",
    }
    srv.responder = lambda body: answers[body["messages"][-1]["content"]]
    summary = run(project, list(answers))
    runs = {r.input: r for r in summary.new_runs}
    assert json.loads(runs["good"].output) == {"command": "ffmpeg -i a b"}
    assert (
        runs["wrong"].error.type == "invalid_output"
        and "does not match pattern" in runs["wrong"].error.message
    )
    assert runs["wrong"].intermediate_outputs["raw_output"] == '{"command": "rm -rf /"}'
    assert runs["prose"].error.type == "malformed"
    fmt = srv.requests[0].body["response_format"]
    assert (
        fmt["type"] == "json_schema"
        and fmt["json_schema"]["schema"] == SCHEMA
        and fmt["json_schema"]["strict"]
    )


def test_structured_output_by_instructions_accepts_fenced_json(project, srv, monkeypatch):
    monkeypatch.setenv("KILNGIT_PROVIDER_FAKE_SUPPORTS_JSON_SCHEMA", "false")
    set_output_schema(project, SCHEMA)
    add_config(project)
    srv.responder = lambda body: Reply('```json\n{"command": "ffmpeg -i x y"}\n```')
    summary = run(project, ["x"])
    assert json.loads(summary.new_runs[0].output) == {"command": "ffmpeg -i x y"}
    body = srv.requests[0].body
    assert "response_format" not in body and '"pattern": "^ffmpeg "' in body["messages"][0]["content"]


def test_native_reasoning_is_kept(project, srv):
    add_config(project)
    srv.responder = lambda body: Reply("ffmpeg -i a b", reasoning_content="the user wants mp4")
    assert run(project, ["a"]).new_runs[0].reasoning == "the user wants mp4"
