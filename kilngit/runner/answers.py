"""Judging a model's answer usable or not, and saying why: refused, cut off, empty, malformed, invalid.

A failed answer still becomes a run (with `error` set and the raw text kept), so nothing the model said is
silently dropped and a re-run does not pay for it again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kilngit.providers.base import ChatResponse
from kilngit.records import RunError
from kilngit.runner.json_check import schema_errors
from kilngit.runner.prompts import FINAL_ANSWER_DELIMITER

_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.S)


@dataclass(frozen=True)
class Checked:
    """An answer's usable text, or the reason it is not usable."""

    output: str | None
    error: RunError | None = None
    raw: str | None = None
    """The model's text when it was not usable as is."""


def response_problem(response: ChatResponse, step: str = "") -> RunError | None:
    """Why a response cannot be used at all (refusal, truncation, nothing said), or None."""
    prefix = f"{step}: " if step else ""
    if response.refusal or response.finish_reason in ("content_filter", "refusal"):
        why = (
            response.refusal
            or f"stopped by the provider's content filter (finish_reason {response.finish_reason})"
        )
        return RunError(type="refused", message=prefix + why.strip()[:500])
    if response.finish_reason == "length":
        tokens = (
            f" after {response.output_tokens} output tokens" if response.output_tokens is not None else ""
        )
        return RunError(
            type="truncated", message=f"{prefix}the answer was cut off at the token limit{tokens}"
        )
    if not (response.content or "").strip():
        return RunError(type="empty", message=f"{prefix}the model returned no text")
    return None


def split_one_step(text: str) -> tuple[str | None, str | None]:
    """(reasoning, answer) of a one-step chain-of-thought answer, split at the last delimiter line."""
    head, sep, tail = text.rpartition(FINAL_ANSWER_DELIMITER)
    if not sep:
        return None, None
    return head.strip() or None, tail.strip()


def check_answer(text: str, output_schema: dict[str, Any] | None) -> Checked:
    """The output to store for an answer text: JSON validated against `output_schema` when one is given."""
    text = text.strip()
    if output_schema is None:
        return Checked(text)
    body = unfence(text)
    try:
        value = json.loads(body)
    except ValueError as e:
        return Checked(None, RunError(type="malformed", message=f"the answer is not valid JSON ({e})"), text)
    problems = schema_errors(value, output_schema)
    if problems:
        return Checked(
            None,
            RunError(
                type="invalid_output",
                message="the answer does not match the output schema: " + "; ".join(problems),
            ),
            text,
        )
    return Checked(json.dumps(value, ensure_ascii=False))


def unfence(text: str) -> str:
    """`text` without a surrounding Markdown code fence (```json ... ```)."""
    m = _FENCE.match(text)
    return m.group(1).strip() if m else text
