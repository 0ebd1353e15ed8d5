"""Training examples: the chat messages a fine-tuned model should answer, built from runs.

The messages come from the same prompt builder `kilngit run task` uses (`kilngit.runner.prompts`), with the
fine-tune's prompt and the way its provider will be asked for structured output, so the model is trained
on exactly what it will be sent. What the assistant says is chosen by the fine-tune's `train_on`:

* `final_answer`: the run's output;
* `repaired_output`: the repaired output when a human gave one, else the run's output;
* `reasoning_and_answer`: the run's reasoning and its output, in the prompt's chain-of-thought style
  (`two_step`: a thinking example and an answering example per run; `one_step`: reasoning, the delimiter
  line, then the answer). Needs a chain-of-thought prompt; runs without reasoning are skipped.

Assistant messages that are context, not targets, carry `"weight": 0` (the OpenAI fine-tuning convention).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kilngit.errors import NotFoundError, UsageError
from kilngit.finetune.splits import part_runs
from kilngit.project import Project
from kilngit.providers.config import provider_settings
from kilngit.records import FineTune, RunConfig
from kilngit.runner.prompts import FINAL_ANSWER_DELIMITER, RunPlan, select_examples

TRAIN_ON = ("final_answer", "repaired_output", "reasoning_and_answer")


@dataclass(frozen=True)
class TrainingExample:
    """One conversation to train on, and the run it came from."""

    run: str
    messages: tuple[dict[str, Any], ...]


@dataclass
class ExampleSet:
    """The examples built from some runs, and how many runs were skipped and why."""

    examples: list[TrainingExample] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        return len({e.run for e in self.examples})


def training_plan(project: Project, task: str, prompt: str | None, provider: str, base_model: str) -> RunPlan:
    """The prompt plan the fine-tuned model will be run with (its run config does not exist yet)."""
    slug = prompt or "default"
    prompt_def = project.prompts(task).get(slug)
    if prompt_def is None:
        raise NotFoundError(
            f"task {task!r} has no prompt {slug!r}",
            f"create tasks/{task}/prompts/{slug}.yaml or set prompt: in the fine-tune",
        )
    config = RunConfig(provider=provider, model=base_model, prompt=slug)
    structured = "json_schema" if provider_settings(provider).supports_json_schema else "json_instructions"
    plan = RunPlan(task, project.task(task), "", config, prompt_def, "", structured)
    if prompt_def.few_shot is not None:
        plan.examples = select_examples(
            project, task, prompt_def.few_shot.filter, prompt_def.few_shot.count + 1
        )
    return plan


def build_examples(
    project: Project, task: str, run_ids: list[str], plan: RunPlan, train_on: str
) -> ExampleSet:
    """Training examples for `run_ids` (in that order) under `plan`; see the module docstring."""
    if train_on not in TRAIN_ON:
        raise UsageError(f"unknown train_on {train_on!r}", f"use one of: {', '.join(TRAIN_ON)}")
    thinking = train_on == "reasoning_and_answer"
    if thinking != (plan.chain_of_thought is not None):
        raise UsageError(
            f"train_on {train_on} does not fit prompt {plan.run_config.prompt!r}, which "
            f"{'asks' if plan.chain_of_thought else 'does not ask'} the model to think first",
            "train on reasoning_and_answer with a chain_of_thought prompt, else on final_answer or repaired_output",
        )
    states = project.states(task)
    out = ExampleSet()
    for run_id in run_ids:
        state = states.get(run_id)
        if state is None:
            out.skipped["missing_run"] += 1
            continue
        run = state.run
        answer = (
            state.repaired_output if train_on == "repaired_output" and state.repaired_output else run.output
        )
        if answer is None or run.error is not None:
            out.skipped["no_output"] += 1
        elif plan.validates_json and not _is_json(answer):
            out.skipped["invalid_json"] += 1
        elif thinking and not run.reasoning:
            out.skipped["no_reasoning"] += 1
        else:
            out.examples += [
                TrainingExample(run_id, m)
                for m in _conversations(plan, run.input, answer, run.reasoning if thinking else None)
            ]
    return out


def _conversations(
    plan: RunPlan, input_text: str, answer: str, reasoning: str | None
) -> list[tuple[dict[str, Any], ...]]:
    if reasoning is None:
        return [(*_context(plan.first_call(input_text).messages), _assistant(answer))]
    if plan.chain_of_thought == "one_step":
        both = f"{reasoning}\n{FINAL_ANSWER_DELIMITER}\n{answer}"
        return [(*_context(plan.first_call(input_text).messages), _assistant(both))]
    think = (*_context(plan.first_call(input_text).messages), _assistant(reasoning))
    return [think, (*_context(plan.answer_call(input_text, reasoning).messages), _assistant(answer))]


def _context(messages: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Prompt messages, with any assistant turns in them (few-shot answers, earlier reasoning) not trained on."""
    return [_assistant(m["content"], 0) if m["role"] == "assistant" else dict(m) for m in messages]


def _assistant(content: str, weight: int | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if weight is not None:
        message["weight"] = weight
    return message


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def finetune_examples(project: Project, task: str, spec: FineTune, part: str | None = None) -> ExampleSet:
    """The examples of one part of a fine-tune's split (default: its train part)."""
    plan = training_plan(project, task, spec.prompt, spec.provider, spec.base_model)
    run_ids = part_runs(project, task, spec.split, part or spec.train_part)
    return build_examples(project, task, run_ids, plan, spec.train_on)
