"""Fine-tune jobs: the spec people write (`create_finetune`), and dispatching, refreshing and cancelling it.

The spec is `tasks/<task>/finetunes/<name>/finetune.yaml`. Everything the runner learns goes to files only the
runner writes: `status.json` (state, provider IDs, checkpoints, the model), `metrics/` (per-step numbers) and,
for the eval-driven loop, `rounds/`. When a job completes, a run config for the fine-tuned model is added, so
`kilngit run task` and evals can use the model like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kilngit import layout
from kilngit.errors import KilngitError, NotFoundError, UsageError
from kilngit.finetune.backends import get_backend
from kilngit.finetune.examples import TRAIN_ON, ExampleSet, finetune_examples
from kilngit.finetune.export import (
    ChatRenderer,
    Tokenizer,
    default_template,
    load_tokenizer,
    openai_jsonl,
    tinker_jsonl,
)
from kilngit.finetune.splits import get_split
from kilngit.project import Project
from kilngit.records import FineTune, FineTuneStatus, RunConfig, is_slug

TERMINAL = ("succeeded", "failed", "cancelled")


def parse_params(items: list[str] | tuple[str, ...], provider: str) -> dict[str, Any]:
    """`k=v` items checked against the backend's parameters and converted to their types."""
    known = get_backend(provider).params
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise UsageError(
                f"unknown {provider} fine-tune parameter {item!r}"
                if sep
                else f"cannot read parameter {item!r}",
                f"write k=v with k one of: {', '.join(known)}",
            )
        out[key] = _convert(key, value.strip(), known[key])
    return out


def _convert(key: str, value: Any, kind: type) -> Any:
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"parameter {key}={value!r} is not a valid {kind.__name__}", f"give {key} a {kind.__name__}"
        ) from None
    if kind in (int, float) and converted <= 0 and key != "seed":
        raise UsageError(f"parameter {key} must be positive", f"give {key} a value above 0")
    return converted


def create_finetune(
    project: Project,
    task: str,
    name: str,
    *,
    provider: str,
    base_model: str,
    split: str,
    params: dict[str, Any] | None = None,
    train_part: str = "train",
    validation_part: str | None = None,
    prompt: str | None = None,
    train_on: str = "final_answer",
    description: str | None = None,
) -> FineTune:
    """Write the spec of a new fine-tune (refusing to overwrite one)."""
    task = project.task_slug(task)
    if not is_slug(name):
        raise UsageError(
            f"{name!r} is not a valid fine-tune name", "use lowercase letters, digits, '-' and '_'"
        )
    known = get_backend(provider).params
    if train_on not in TRAIN_ON:
        raise UsageError(f"unknown train_on {train_on!r}", f"use one of: {', '.join(TRAIN_ON)}")
    relpath = layout.finetune_file(task, name)
    if (project.root / relpath).exists():
        raise KilngitError(f"fine-tune {name!r} already exists", f"edit {relpath}, or pick another name")
    split_def = get_split(project, task, split)
    parts = {p.name for p in split_def.parts}
    for part in (train_part, validation_part):
        if part is not None and part not in parts:
            raise UsageError(f"split {split!r} has no part {part!r}", f"parts: {', '.join(sorted(parts))}")
    if prompt is not None and prompt not in project.prompts(task):
        raise NotFoundError(
            f"task {task!r} has no prompt {prompt!r}", f"known: {', '.join(project.prompts(task))}"
        )
    unknown = sorted(set(params or {}) - set(known))
    if unknown:
        raise UsageError(
            f"unknown {provider} fine-tune parameter(s): {', '.join(unknown)}", f"known: {', '.join(known)}"
        )
    checked = {k: _convert(k, v, known[k]) for k, v in (params or {}).items()}
    spec = FineTune(
        description=description,
        provider=provider,
        base_model=base_model,
        split=split,
        train_part=train_part,
        validation_part=validation_part,
        prompt=prompt,
        train_on=train_on,  # type: ignore[arg-type]
        params=checked,
    )
    project.write_definition(relpath, spec)
    return spec


def get_finetune(project: Project, task: str, name: str) -> FineTune:
    """The fine-tune spec called `name`, or a NotFoundError naming the known ones."""
    specs = project.finetunes(task)
    if name not in specs:
        raise NotFoundError(
            f"task {task!r} has no fine-tune {name!r}",
            f"known: {', '.join(specs) or 'none'}; create one: kilngit finetune create NAME ...",
        )
    return specs[name]


def read_status(project: Project, task: str, name: str) -> FineTuneStatus:
    """The fine-tune's status, or a fresh `pending` one when it was never started."""
    return project.finetune_status(task, name) or FineTuneStatus(task=task, finetune=name)


def write_status(project: Project, status: FineTuneStatus, **changes: Any) -> FineTuneStatus:
    """Write the status with `changes` applied (validated), and return it."""
    data = {**status.model_dump(), **changes}
    updated = FineTuneStatus.model_validate(data)
    project.write_record(updated)
    return updated


def model_run_config(
    project: Project, task: str, slug: str, spec: FineTune, provider: str, model: str, description: str
) -> str:
    """Write (or update) the run config of a fine-tuned model; returns its slug."""
    config = RunConfig(
        description=description, provider=provider, model=model, prompt=spec.prompt or "default"
    )
    project.write_definition(layout.run_config_file(task, slug), config)
    return slug


def run_config_slug(name: str, suffix: str = "") -> str:
    """`ft-<name>[-suffix]`, the run config slug of a fine-tune's model, at most 64 characters."""
    tail = f"-{suffix}" if suffix else ""
    return f"ft-{name}"[: 64 - len(tail)] + tail


@dataclass(frozen=True)
class Export:
    """The bytes of an export, and what went into them."""

    data: bytes
    examples: ExampleSet


def renderer_for(spec: FineTune, tokenizer: Tokenizer | None = None) -> ChatRenderer:
    """The chat renderer a Tinker fine-tune trains with: `tokenizer` if given, else the spec's `tokenizer`
    param (e.g. "byte"), else the base model's own tokenizer."""
    tok = tokenizer or load_tokenizer(str(spec.params.get("tokenizer") or spec.base_model))
    return ChatRenderer(tok, str(spec.params.get("template") or default_template(spec.base_model)))


def export_finetune(
    project: Project,
    task: str,
    name: str,
    fmt: str,
    *,
    part: str | None = None,
    tokenizer: Tokenizer | None = None,
) -> Export:
    """A fine-tune's training data (or `part` of its split) as OpenAI chat JSONL or Tinker datum JSONL."""
    spec = get_finetune(project, task, name)
    examples = finetune_examples(project, task, spec, part)
    if fmt == "openai":
        return Export(openai_jsonl(examples.examples), examples)
    if fmt == "tinker":
        return Export(tinker_jsonl(examples.examples, renderer_for(spec, tokenizer)), examples)
    raise UsageError(f"unknown export format {fmt!r}", "use openai or tinker")
