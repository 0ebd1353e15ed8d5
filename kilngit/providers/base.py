"""The provider contract: one chat-completion call in, one answer out.

Every provider module implements `Provider` and registers itself by name. Callers (task runs, LLM judges,
synthetic data) build a `ChatRequest`, await `provider.complete(request)`, and get a `ChatResponse` or a
`kilngit.errors.ProviderError` after the provider's own retries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from kilngit.errors import ProviderError

FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "refusal", "unknown"]


@dataclass(frozen=True)
class ChatRequest:
    """Everything that determines a model's answer (and so also the key of the record/replay cache)."""

    model: str
    messages: tuple[dict[str, Any], ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    """OpenAI-style response_format, e.g. {"type": "json_schema", "json_schema": {...}}."""
    logprobs: bool = False
    top_logprobs: int | None = None
    seed: int | None = None
    """Also distinguishes samples: sample k of a run uses its own cache entry."""


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()
    """The most likely alternatives at this position, (token, logprob)."""


@dataclass(frozen=True)
class ChatResponse:
    """A model's answer."""

    content: str | None
    finish_reason: FinishReason = "stop"
    refusal: str | None = None
    reasoning: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    cost: float | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    cached: bool = False
    """True when the answer came from the record/replay cache."""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """A model endpoint."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer one request, retrying transient failures; raise ProviderError when it cannot."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


FailureReason = Literal[
    "rate_limit",
    "server_error",
    "timeout",
    "connection",
    "malformed_response",
    "bad_request",
    "auth",
    "not_found",
    "config",
    "replay_miss",
]
TRANSIENT_REASONS: frozenset[str] = frozenset({"rate_limit", "server_error", "timeout", "connection"})
"""Failures worth trying again later: a task run hitting one is reported, not recorded."""
FATAL_REASONS: frozenset[str] = frozenset({"auth", "not_found", "config", "replay_miss"})
"""Failures every further request would repeat: a batch stops at the first."""


class RequestFailed(ProviderError):
    """A request failed for good (after the provider's retries). `reason` says how; messages never hold keys."""

    def __init__(
        self,
        message: str,
        reason: FailureReason,
        hint: str | None = None,
        *,
        attempts: int = 1,
        status: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.reason = reason
        self.attempts = attempts
        self.status = status

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT_REASONS

    @property
    def fatal(self) -> bool:
        return self.reason in FATAL_REASONS
