"""Kiln values -> kilngit values: data sources, usage, ratings, run filters, models, prompt builders.

Functions raise `Unmappable` when a value cannot be imported at all (the importer reports it with the file's
path and skips the item) and call `warn` for lossy but usable mappings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from kilngit.finetune.backends import get_backend
from kilngit.records import FewShot, Prompt, Rating, Source, Usage
from kilngit.records.annotation import utc_stamp

Warn = Callable[[str], None]

#: Kiln prompt builders (prompt IDs that name a generator) -> the kilngit prompt that builds the same thing.
PROMPT_BUILDERS: dict[str, dict[str, Any]] = {
    "simple_prompt_builder": {},
    "short_prompt_builder": {"include_requirements": False},
    "few_shot_prompt_builder": {"few_shot": FewShot(count=4, filter="human_rating>=4*")},
    "multi_shot_prompt_builder": {"few_shot": FewShot(count=25, filter="human_rating>=4*")},
    "repairs_prompt_builder": {"few_shot": FewShot(count=25, filter="human_rating>=4*")},
    "simple_chain_of_thought_prompt_builder": {"chain_of_thought": True},
    "few_shot_chain_of_thought_prompt_builder": {
        "chain_of_thought": True,
        "few_shot": FewShot(count=4, filter="human_rating>=4*"),
    },
    "multi_shot_chain_of_thought_prompt_builder": {
        "chain_of_thought": True,
        "few_shot": FewShot(count=25, filter="human_rating>=4*"),
    },
}

STRUCTURED_OUTPUT = {
    "default": "auto",
    "unknown": "auto",
    "json_schema": "json_schema",
    "json_mode": "json_mode",
    "json_instruction_and_object": "json_mode",
    "json_instructions": "json_instructions",
    "json_custom_instructions": "json_instructions",
    "function_calling": "auto",
    "function_calling_weak": "auto",
}

DATA_STRATEGY = {
    "final_only": "final_answer",
    "final_and_intermediate": "reasoning_and_answer",
    "two_message_cot": "reasoning_and_answer",
    "final_and_intermediate_r1_compatible": "reasoning_and_answer",
}

FINETUNE_STATE = {
    "completed": "succeeded",
    "failed": "failed",
    "running": "running",
    "pending": "queued",
    "unknown": "queued",
}

#: Kiln fine-tune provider -> (kilngit fine-tune backend, Kiln parameter name -> the backend's). A provider
#: missing here (e.g. vertex) keeps its name, and `finetune start` refuses it.
FINETUNE_BACKENDS: dict[str, tuple[str, dict[str, str]]] = {
    "openai": ("openai", {}),
    "fireworks_ai": ("fireworks", {}),
    "together_ai": (
        "together",
        {"epochs": "n_epochs", "num_checkpoints": "n_checkpoints", "lora_rank": "lora_r"},
    ),
}


def finetune_backend(provider: str, params: dict[str, Any], warn: Warn) -> tuple[str, dict[str, Any]]:
    """The kilngit backend of a Kiln fine-tune provider, and its parameters in the backend's names; parameters
    the backend does not take are left out (with a warning)."""
    if provider not in FINETUNE_BACKENDS:
        return provider, params
    backend, names = FINETUNE_BACKENDS[provider]
    known = get_backend(backend).params
    out = {}
    for key, value in params.items():
        name = names.get(key, key)
        if name in known:
            out[name] = value
        else:
            warn(f"parameter {key!r} is not one kilngit's {backend} backend takes; left out")
    return backend, out


#: Characters the kilngit filter language reserves; a tag holding one cannot be written as `tag::X`.
_FILTER_RESERVED = re.compile(r"[\s()&,|!]")


class Unmappable(Exception):
    """A Kiln value kilngit cannot represent; the message says what and the fix how to repair the source."""

    def __init__(self, message: str, fix: str = "fix the value in Kiln and import again") -> None:
        super().__init__(message)
        self.fix = fix


def prompt_for_builder(builder_id: str) -> Prompt:
    """The kilngit prompt equivalent to a Kiln prompt builder (a plain prompt for builders kilngit lacks)."""
    return Prompt(
        description=f"Kiln's {builder_id.replace('_', ' ')}.",
        kiln_id=builder_id,
        **PROMPT_BUILDERS.get(builder_id, {}),
    )


def usage(data: dict[str, Any] | None) -> Usage | None:
    """Kiln usage (tokens and cost) as kilngit Usage; None when nothing is known."""
    if not data:
        return None
    fields = {k: data.get(k) for k in ("input_tokens", "output_tokens", "total_tokens", "cost")}
    fields = {
        k: v for k, v in fields.items() if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
    }
    return Usage(**fields) if fields else None


def model_ref(provider: str, model: str, finetunes: dict[str, tuple[str, str | None]]) -> tuple[str, str]:
    """(provider, model) as kilngit names them: Kiln fine-tunes become their provider's model ID, and Kiln's
    custom registry (`openrouter::vendor/model`) is split into provider and model. Other model names stay
    Kiln's model IDs (e.g. gpt_4_1)."""
    if provider == "kiln_fine_tune":
        ft = finetunes.get(model.rsplit("::", 1)[-1])
        if ft is not None and ft[1]:
            return ft[0], ft[1]
    if provider == "kiln_custom_registry" and "::" in model:
        head, _, tail = model.partition("::")
        return head, tail
    return provider, model


def source(
    data: dict[str, Any] | None,
    warn: Warn,
    *,
    prompt: str | None = None,
    run_config: str | None = None,
    finetunes: dict[str, tuple[str, str | None]] | None = None,
) -> Source:
    """A Kiln DataSource as a kilngit Source."""
    if not isinstance(data, dict):
        warn("has no source; imported as typed by kiln-import")
        return Source(type="human", created_by="kiln-import")
    props = data.get("properties") or {}
    kind = data.get("type")
    if kind == "human":
        return Source(type="human", created_by=str(props.get("created_by") or "kiln-import"))
    if kind == "file_import":
        return Source(type="file_import", file=str(props.get("file_name") or "") or None)
    if kind not in ("synthetic", "tool_call"):
        raise Unmappable(f"unknown data source type {kind!r}")
    if kind == "tool_call":
        warn("a tool_call source is imported as synthetic")
    provider, model = model_ref(
        str(props.get("model_provider") or ""), str(props.get("model_name") or kind), finetunes or {}
    )
    topic = props.get("topic_path")
    return Source(
        type="synthetic",
        provider=provider or None,
        model=model,
        prompt=prompt,
        run_config=run_config,
        topic=[t.strip() for t in topic.split(" > ")] if isinstance(topic, str) and topic else None,
    )


def stamp(created_at: Any) -> str | None:
    """Kiln's `created_at` as a `rated_at` value, or None when missing or unreadable. Kiln writes local time
    without a zone (Python's naive `datetime.now()`); kilngit keeps the wall-clock reading as written and
    marks it UTC, so the gaps between ratings (what audits look at) are exact."""
    if not isinstance(created_at, str):
        return None
    try:
        moment = datetime.fromisoformat(created_at.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return utc_stamp(moment)


def rating(value: Any, rating_type: Any, what: str) -> Rating:
    """One Kiln rating value as a kilngit Rating (Kiln's `custom` ratings have no kilngit equivalent)."""
    if rating_type == "custom":
        raise Unmappable(
            f"{what} is a custom rating, which kilngit does not have",
            "nothing to do; the rating stays in Kiln",
        )
    try:
        return Rating(type=rating_type, value=float(value))
    except (ValidationError, TypeError, ValueError) as e:
        raise Unmappable(
            f"{what}: invalid rating {value!r} of type {rating_type!r} ({_first_error(e)})"
        ) from e


def run_filter(filter_id: str | None, warn: Warn) -> str:
    """A Kiln dataset filter ID as a kilngit run filter (`all` with a warning when there is no equivalent)."""
    mapped = _filter(filter_id) if filter_id else None
    if mapped is None:
        warn(f"filter {filter_id!r} has no kilngit equivalent; using `all`")
        return "all"
    return mapped


def _filter(fid: str) -> str | None:
    if fid == "all":
        return "all"
    if fid == "high_rating":
        return "human_rating>=4*"
    if fid.startswith("tag::"):
        tag = fid[5:]
        return f"tag::{tag}" if tag and not _FILTER_RESERVED.search(tag) else None
    if fid.startswith("multi_filter::"):
        parts = [_filter(p) for p in fid[len("multi_filter::") :].split("&")]
        return " & ".join(parts) if parts and None not in parts else None  # type: ignore[arg-type]
    return None


def eval_steps_text(task_description: str | None, steps: list[str]) -> str:
    """A Kiln judge's task description and evaluation steps as kilngit judge instructions."""
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    head = (
        f"Task description:\n{task_description.strip()}\n\n"
        if task_description and task_description.strip()
        else ""
    )
    return f"{head}Evaluation steps:\n{numbered}" if steps else head.strip()


def parse_eval_steps(text: str | None) -> tuple[str | None, list[str]]:
    """The inverse of `eval_steps_text` (best effort: a step holding its own "\nN. " line splits there);
    free text becomes one step."""
    if not text:
        return None, []
    description = None
    if text.startswith("Task description:\n"):
        description, sep, text = text[len("Task description:\n") :].partition("\n\nEvaluation steps:\n")
        if not sep:
            return description, []
    elif text.startswith("Evaluation steps:\n"):
        text = text[len("Evaluation steps:\n") :]
    else:
        return None, [text]
    if not text.startswith("1. "):
        return description, [text]
    steps, rest, n = [], text[3:], 2
    while (cut := rest.find(f"\n{n}. ")) >= 0:
        steps.append(rest[:cut])
        rest, n = rest[cut + len(f"\n{n}. ") :], n + 1
    return description, [*steps, rest]


def _first_error(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return e.errors(include_url=False)[0]["msg"]
    return str(e)
