"""Turning a task, a prompt definition and a run config into the chat messages sent for one input.

    plan = load_plan(project, "ffmpeg", "gpt4o-mini")      # definitions, examples and output format, once
    calls = plan.first_call(input_text)                     # the ChatRequest(s) for one input

* System message: the prompt's `system` (default: the task's instruction), the task's requirements, and,
  when the task has an output schema and the endpoint cannot enforce it, JSON instructions.
* Few-shot / many-shot: user/assistant pairs taken from highly rated runs (the prompt's `few_shot.filter`),
  chosen deterministically (by run ID), never the input being answered, repaired outputs preferred.
* Chain of thought: `two_step` (one call to think, a second call for the answer) or `one_step` (reasoning,
  a delimiter line, then the answer). The reasoning is kept in the run.
* Structured output: response_format `json_schema` where supported, `json_object` for json_mode, plain
  instructions otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kilngit.errors import NotFoundError, did_you_mean
from kilngit.providers.base import ChatRequest
from kilngit.records import Prompt, RunConfig, Task
from kilngit.records.task import run_config_hash  # its home; kept importable from here and kilngit.runner

if TYPE_CHECKING:
    from kilngit.project import Project

FINAL_ANSWER_DELIMITER = "=== FINAL ANSWER ==="
DEFAULT_THINKING = "Think step by step about the request and how to answer it well."
FINAL_ANSWER_REQUEST = "Considering the reasoning above, give your final answer now, and nothing else."


@dataclass(frozen=True)
class Example:
    """One worked example shown to the model."""

    input: str
    output: str


@dataclass
class RunPlan:
    """Everything needed to build the requests of one run config for any input of its task."""

    task_slug: str
    task: Task
    run_config_slug: str
    run_config: RunConfig
    prompt: Prompt
    config_hash: str
    structured: str
    """How the output schema is asked for: json_schema, json_mode, json_instructions or none."""
    examples: list[Example] = field(default_factory=list)
    """Candidate examples in selection order (more than `few_shot.count` when some may be excluded)."""

    @property
    def validates_json(self) -> bool:
        """True when answers must be JSON matching the task's output schema."""
        return self.task.output_schema is not None and self.structured != "none"

    @property
    def chain_of_thought(self) -> str | None:
        """None, "two_step" or "one_step"."""
        return self.prompt.chain_of_thought_style if self.prompt.chain_of_thought else None

    def system_message(self, *, thinking: bool = False) -> str:
        parts = [(self.prompt.system or self.task.instruction).strip()]
        if self.prompt.include_requirements and self.task.requirements:
            reqs = "\n".join(f"{i}. {r.instruction}" for i, r in enumerate(self.task.requirements, 1))
            parts.append(f"Requirements:\n{reqs}")
        one_step = self.chain_of_thought == "one_step"
        if self.validates_json and (self.structured != "json_schema" or one_step):
            schema = json.dumps(self.task.output_schema, ensure_ascii=False, indent=2)
            parts.append(
                f"Your answer must be a single JSON value matching this JSON Schema, with no other "
                f"text and no code fences:\n{schema}"
            )
        if thinking:
            parts.append(
                f"{self._thinking_instruction()}\nWrite only your reasoning now: you will be asked for "
                f"the final answer next."
            )
        elif one_step:
            parts.append(
                f"{self._thinking_instruction()}\nWrite your reasoning first. Then write a line "
                f"containing only {FINAL_ANSWER_DELIMITER} followed by your final answer."
            )
        return "\n\n".join(parts)

    def _thinking_instruction(self) -> str:
        return (
            self.prompt.thinking_instruction or self.task.thinking_instruction or DEFAULT_THINKING
        ).strip()

    def examples_for(self, input_text: str) -> list[Example]:
        """The examples shown when answering `input_text` (never that input itself)."""
        if self.prompt.few_shot is None:
            return []
        chosen = [e for e in self.examples if e.input != input_text]
        return chosen[: self.prompt.few_shot.count]

    def _messages(self, input_text: str, thinking: bool = False) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.system_message(thinking=thinking)}
        ]
        for example in self.examples_for(input_text):
            messages += [
                {"role": "user", "content": example.input},
                {"role": "assistant", "content": example.output},
            ]
        messages.append({"role": "user", "content": input_text})
        return messages

    def request(self, messages: list[dict[str, Any]], sample: int, *, final: bool = True) -> ChatRequest:
        rc = self.run_config
        response_format = self.response_format() if final and self.chain_of_thought != "one_step" else None
        return ChatRequest(
            model=rc.model,
            messages=tuple(messages),
            temperature=rc.temperature,
            top_p=rc.top_p,
            max_tokens=rc.max_tokens,
            response_format=response_format,
            seed=sample or None,
        )  # sample 0 is the plain call; sample k uses seed k

    def first_call(self, input_text: str, sample: int = 0) -> ChatRequest:
        """The first (often only) request for an input: the thinking call of a two-step chain of thought."""
        if self.chain_of_thought == "two_step":
            return self.request(self._messages(input_text, thinking=True), sample, final=False)
        return self.request(self._messages(input_text), sample)

    def answer_call(self, input_text: str, reasoning: str, sample: int = 0) -> ChatRequest:
        """The second request of a two-step chain of thought, given the first call's reasoning."""
        messages = self._messages(input_text)
        messages += [
            {"role": "assistant", "content": reasoning},
            {"role": "user", "content": FINAL_ANSWER_REQUEST},
        ]
        return self.request(messages, sample)

    def response_format(self) -> dict[str, Any] | None:
        schema = self.task.output_schema
        if not self.validates_json or schema is None:
            return None
        if self.structured == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": "task_output", "schema": schema, "strict": strict_compatible(schema)},
            }
        if self.structured == "json_mode":
            return {"type": "json_object"}
        return None


def strict_compatible(schema: Any) -> bool:
    """True when OpenAI's strict mode accepts the schema: every object closes additionalProperties and requires
    all its properties."""
    if isinstance(schema, list):
        return all(strict_compatible(s) for s in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return False
        if set(schema.get("required", [])) != set(schema.get("properties", {})):
            return False
    return all(strict_compatible(v) for k, v in schema.items() if isinstance(v, (dict, list)) and k != "enum")


def load_plan(
    project: Project,
    task_slug: str,
    run_config_slug: str,
    *,
    supports_json_schema: bool = True,
) -> RunPlan:
    """Read a run config, its prompt and its examples; `supports_json_schema` resolves structured_output auto."""
    task = project.task(task_slug)
    config = get_run_config(project, task_slug, run_config_slug)
    prompt = project.prompts(task_slug).get(config.prompt)
    if prompt is None:
        raise NotFoundError(
            f"run config {run_config_slug!r} names prompt {config.prompt!r}, which does not exist",
            f"create tasks/{task_slug}/prompts/{config.prompt}.yaml or fix the run config",
        )
    structured = config.structured_output
    if structured == "auto":
        structured = "json_schema" if supports_json_schema else "json_instructions"
    plan = RunPlan(
        task_slug, task, run_config_slug, config, prompt, run_config_hash(task, prompt, config), structured
    )
    if prompt.few_shot is not None:
        plan.examples = select_examples(project, task_slug, prompt.few_shot.filter, prompt.few_shot.count + 1)
    return plan


def get_run_config(project: Project, task_slug: str, slug: str) -> RunConfig:
    """The run config `slug` of a task, or a NotFoundError saying which exist."""
    config = project.run_configs(task_slug).get(slug)
    if config is None:
        raise NotFoundError(
            f"task {task_slug!r} has no run config {slug!r}",
            f"{did_you_mean(slug, project.run_configs(task_slug))}"
            f"known: {', '.join(project.run_configs(task_slug)) or 'none'}; create "
            f"tasks/{task_slug}/run_configs/{slug}.yaml",
        )
    return config


def select_examples(project: Project, task_slug: str, filter_text: str, limit: int) -> list[Example]:
    """Up to `limit` examples from the runs matching `filter_text`: runs with a usable output (the repaired one
    when a rater gave it), one per input, in run-ID order (IDs are hashes, so this is a stable shuffle)."""
    out: list[Example] = []
    seen: set[str] = set()
    for state in project.select(task_slug, filter_text):
        run = state.run
        output = state.repaired_output or (run.output if run.error is None else None)
        if output is None or run.input in seen:
            continue
        seen.add(run.input)
        out.append(Example(run.input, output))
        if len(out) >= limit:
            break
    return out
