"""Exports of training examples: OpenAI chat JSONL, and Tinker supervised datums via a chat template.

    examples = finetune_examples(project, "ffmpeg", spec).examples
    openai_jsonl(examples)                                   # bytes, one {"messages": [...]} per line
    renderer = ChatRenderer(ByteTokenizer(), "chatml")       # any tokenizer with encode(text) -> ids
    renderer.datum(examples[0].messages)                     # a tinker.types.Datum

The renderer writes the conversation in the model's chat template and weights only the tokens the model
must learn to produce: each trained assistant message's content and its end-of-turn marker. The tokenizer is
injected, so tests and offline use never download one; `load_tokenizer` gets a real one only when asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kilngit.errors import UsageError
from kilngit.finetune.examples import TrainingExample


class Tokenizer(Protocol):
    """What the renderer needs from a tokenizer (a Hugging Face tokenizer has it)."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]: ...


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template as text pieces: `begin` once, then per message `header` + content + `end`."""

    begin: str
    header: str
    """Formatted with {role}."""
    end: str
    """End-of-turn marker, trained on after assistant content (the model must learn to stop)."""
    separator: str = ""
    """Between messages, never trained on."""


TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate("", "<|im_start|>{role}\n", "<|im_end|>", "\n"),
    "llama3": ChatTemplate(
        "<|begin_of_text|>", "<|start_header_id|>{role}<|end_header_id|>\n\n", "<|eot_id|>"
    ),
}


def default_template(base_model: str) -> str:
    """The template family of a base model (Llama 3 models use llama3, the rest ChatML)."""
    return "llama3" if "llama" in base_model.lower() else "chatml"


@dataclass(frozen=True)
class Rendered:
    """A conversation as tokens, with a weight per token (1 = learn to produce it)."""

    tokens: list[int]
    weights: list[float]

    @property
    def trained_tokens(self) -> float:
        return sum(self.weights[1:])


class ChatRenderer:
    """Renders chat messages with a template and a tokenizer into weighted tokens and Tinker datums."""

    def __init__(self, tokenizer: Tokenizer, template: str = "chatml") -> None:
        if template not in TEMPLATES:
            raise UsageError(f"unknown chat template {template!r}", f"use one of: {', '.join(TEMPLATES)}")
        self.tokenizer = tokenizer
        self.template = TEMPLATES[template]

    def render(self, messages: Sequence[dict[str, Any]]) -> Rendered:
        tokens: list[int] = []
        weights: list[float] = []

        def add(text: str, weight: float) -> None:
            if text:
                ids = list(self.tokenizer.encode(text, add_special_tokens=False))
                tokens.extend(ids)
                weights.extend([weight] * len(ids))

        t = self.template
        add(t.begin, 0.0)
        for i, m in enumerate(messages):
            trained = float(m.get("weight", 1)) if m["role"] == "assistant" else 0.0
            add(t.header.format(role=m["role"]), 0.0)
            add(str(m.get("content") or ""), trained)
            add(t.end, trained)
            if i < len(messages) - 1:
                add(t.separator, 0.0)
        return Rendered(tokens, weights)

    def datum(self, messages: Sequence[dict[str, Any]]) -> Any:
        """A next-token cross-entropy `tinker.types.Datum` for one conversation."""
        from tinker import types  # optional: kilngit[tinker]

        r = self.render(messages)
        n = len(r.tokens) - 1
        return types.Datum(
            model_input=types.ModelInput.from_ints(r.tokens[:-1]),
            loss_fn_inputs={
                "target_tokens": types.TensorData(data=r.tokens[1:], dtype="int64", shape=[n]),
                "weights": types.TensorData(data=r.weights[1:], dtype="float32", shape=[n]),
            },
        )


class ByteTokenizer:
    """A hub-free tokenizer: one token per UTF-8 byte (ids 0-255), for tests and offline checks
    (`params tokenizer=byte`). Has the two methods training code needs from a Hugging Face tokenizer."""

    eos_token_id = None
    vocab_size = 256

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, tokens: Any, skip_special_tokens: bool = False) -> str:
        return bytes(int(t) & 0xFF for t in tokens).decode("utf-8", errors="replace")


def load_tokenizer(name: str) -> Tokenizer:
    """A tokenizer by name: "byte" (one token per UTF-8 byte, for tests and offline checks), else a Hugging
    Face tokenizer (needs the `transformers` package and downloads from the Hub once)."""
    if name == "byte":
        return ByteTokenizer()
    try:
        from transformers import AutoTokenizer  # type: ignore[import-not-found]
    except ImportError:
        raise UsageError(
            f"loading the tokenizer of {name!r} needs the transformers package",
            "pip install transformers, or set params tokenizer=byte for an offline check",
        ) from None
    return AutoTokenizer.from_pretrained(name)  # type: ignore[no-any-return]


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def openai_jsonl(examples: Iterable[TrainingExample]) -> bytes:
    """OpenAI chat fine-tuning JSONL: one `{"messages": [...]}` per line, bytes stable for the same input."""
    return b"".join(_line({"messages": list(e.messages)}) for e in examples)


def tinker_jsonl(examples: Iterable[TrainingExample], renderer: ChatRenderer) -> bytes:
    """The Tinker datums as JSONL: per example its run, model input tokens, target tokens and weights."""
    lines = []
    for e in examples:
        r = renderer.render(e.messages)
        lines.append(
            _line(
                {
                    "run": e.run,
                    "model_input": r.tokens[:-1],
                    "target_tokens": r.tokens[1:],
                    "weights": r.weights[1:],
                }
            )
        )
    return b"".join(lines)
