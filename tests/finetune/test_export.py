"""Training examples and exports: OpenAI chat JSONL (plain, reasoning, structured), Tinker datums."""

from __future__ import annotations

import json

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.errors import UsageError
from kilngit.finetune.examples import build_examples, training_plan
from kilngit.finetune.export import ChatRenderer, openai_jsonl
from kilngit.finetune.jobs import create_finetune, export_finetune
from kilngit.finetune.splits import new_split, parse_parts
from kilngit.project import Project
from kilngit.records import Annotation, Prompt, Source, TaskRun
from kilngit.runner.prompts import FINAL_ANSWER_DELIMITER, FINAL_ANSWER_REQUEST
from kilngit.testing.fake_tinker import ByteTokenizer
from tests.finetune.helpers import TASK, add_runs


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def reasoning_run(project: Project, i: int) -> str:
    src = Source(type="synthetic", provider="openai", model="gpt-4o")
    run = TaskRun(
        task=TASK,
        input=f"shrink clip{i}.mp4",
        input_source=Source(type="human", created_by="a@x"),
        output=f"ffmpeg -i clip{i}.mp4 -crf 28 small{i}.mp4",
        output_source=src,
        reasoning=f"Use a higher CRF for clip{i}.",
    ).with_id()
    project.write_record(run)
    return run.id


def test_openai_jsonl_final_and_repaired(project: Project):
    ids = add_runs(project, 3)
    project.write_record(
        Annotation(
            task=TASK, run=ids[0], rater="bob@example.com", repaired_output="ffmpeg -i fixed.mov fixed.mp4"
        )
    )
    plan = training_plan(project, TASK, None, "openai", "gpt-4o-mini")
    final = build_examples(project, TASK, ids, plan, "final_answer")
    repaired = build_examples(project, TASK, ids, plan, "repaired_output")
    assert final.runs == 3 and not final.skipped
    first = lines(openai_jsonl(final.examples))[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[0]["content"].startswith("Turn a request into a single ffmpeg command.")
    assert "Never deletes" in first[0]["content"]  # requirements, as the runner's prompt has them
    assert first[2]["content"] == "ffmpeg -i file0.mov file0.mp4"
    assert (
        lines(openai_jsonl(repaired.examples))[0]["messages"][2]["content"] == "ffmpeg -i fixed.mov fixed.mp4"
    )
    assert openai_jsonl(final.examples) == openai_jsonl(
        build_examples(project, TASK, ids, plan, "final_answer").examples
    )


def test_reasoning_two_step_and_one_step(project: Project):
    plain = add_runs(project, 1)
    ids = [reasoning_run(project, i) for i in range(2)]
    for style in ("two_step", "one_step"):
        project.write_definition(
            layout.prompt_file(TASK, f"cot-{style}"),
            Prompt(chain_of_thought=True, chain_of_thought_style=style),
        )
    two = training_plan(project, TASK, "cot-two_step", "openai", "gpt-4o-mini")
    built = build_examples(project, TASK, ids + plain, two, "reasoning_and_answer")
    assert built.runs == 2 and built.skipped == {"no_reasoning": 1} and len(built.examples) == 4
    think, answer = lines(openai_jsonl(built.examples[:2]))
    assert think["messages"][-1] == {"role": "assistant", "content": "Use a higher CRF for clip0."}
    assert [m.get("weight") for m in answer["messages"] if m["role"] == "assistant"] == [0, None]
    assert answer["messages"][-2] == {"role": "user", "content": FINAL_ANSWER_REQUEST}
    one = training_plan(project, TASK, "cot-one_step", "openai", "gpt-4o-mini")
    (single,) = build_examples(project, TASK, ids[:1], one, "reasoning_and_answer").examples
    assert single.messages[-1]["content"] == (
        f"Use a higher CRF for clip0.\n{FINAL_ANSWER_DELIMITER}\nffmpeg -i clip0.mp4 -crf 28 small0.mp4"
    )
    with pytest.raises(UsageError, match="think first"):
        build_examples(project, TASK, ids, two, "final_answer")
    with pytest.raises(UsageError, match="does not ask"):
        build_examples(
            project, TASK, ids, training_plan(project, TASK, None, "openai", "m"), "reasoning_and_answer"
        )


def test_structured_output_skips_invalid_json(project: Project):
    task = project.task(TASK).model_copy(
        update={
            "output_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
                "additionalProperties": False,
            }
        }
    )
    project.write_definition(layout.task_file(TASK), task)
    good = add_run(project, TASK, "mov to mp4", '{"command": "ffmpeg -i a.mov a.mp4"}', author="a@x").id
    bad = add_run(project, TASK, "mov to avi", "ffmpeg -i a.mov a.avi", author="a@x").id
    openai_plan = training_plan(project, TASK, None, "openai", "gpt-4o-mini")
    built = build_examples(project, TASK, [good, bad], openai_plan, "final_answer")
    assert built.runs == 1 and built.skipped == {"invalid_json": 1}
    assert json.loads(built.examples[0].messages[-1]["content"]) == {"command": "ffmpeg -i a.mov a.mp4"}
    assert "JSON Schema" not in built.examples[0].messages[0]["content"]  # enforced by response_format
    tinker_plan = training_plan(project, TASK, None, "tinker", "Qwen/Qwen3-8B")
    system = build_examples(project, TASK, [good], tinker_plan, "final_answer").examples[0].messages[0]
    assert "JSON Schema" in system["content"]  # Tinker's endpoint gets the schema as instructions


def test_chat_renderer_weights_only_trained_assistant_turns():
    renderer = ChatRenderer(ByteTokenizer(), "chatml")
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        {"role": "assistant", "content": "ctx", "weight": 0},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "A"},
    ]
    r = renderer.render(messages)
    text = bytes(r.tokens).decode()
    assert text == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nctx"
        "<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\nA<|im_end|>"
    )
    trained = bytes(t for t, w in zip(r.tokens, r.weights, strict=True) if w).decode()
    assert trained == "A<|im_end|>"
    datum = renderer.datum(messages)
    assert datum.loss_fn_inputs["target_tokens"].data == r.tokens[1:]
    assert datum.model_input.to_ints() == r.tokens[:-1]
    llama = bytes(ChatRenderer(ByteTokenizer(), "llama3").render(messages[:2]).tokens).decode()
    assert llama.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>")


def test_export_finetune_both_formats(project: Project):
    add_runs(project, 5)
    new_split(project, TASK, "s", parse_parts(["train=0.6,test=0.4"]))
    create_finetune(
        project,
        TASK,
        "ft",
        provider="tinker",
        base_model="Qwen/Qwen3-8B",
        split="s",
        params={"tokenizer": "byte"},
    )
    oai = export_finetune(project, TASK, "ft", "openai")
    assert len(lines(oai.data)) == 3 and oai.examples.runs == 3
    test_part = export_finetune(project, TASK, "ft", "openai", part="test")
    assert len(lines(test_part.data)) == 2
    tinker = lines(export_finetune(project, TASK, "ft", "tinker").data)
    assert len(tinker) == 3 and set(tinker[0]) == {"run", "model_input", "target_tokens", "weights"}
    assert tinker[0]["model_input"][1:] == tinker[0]["target_tokens"][:-1] and 1.0 in tinker[0]["weights"]
