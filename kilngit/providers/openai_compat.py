"""One provider for every OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter, Ollama, vLLM,
llama.cpp, LM Studio, Tinker's OpenAI-compatible route), on the official `openai` SDK.

The SDK's own retries are off (`max_retries=0`): `kilngit.providers.retry` retries instead, so every provider
type behaves the same. The API key is read from the environment at the first request (so replaying a
recording needs no key) and is scrubbed from every error message.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from kilngit.providers.base import ChatRequest, ChatResponse, FinishReason, RequestFailed, TokenLogprob
from kilngit.providers.config import ProviderSettings
from kilngit.providers.registry import provider_type
from kilngit.providers.retry import Failure, RateLimiter, RetryPolicy, call_with_retries
from kilngit.providers.secrets import redact

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "eos": "stop",
    "end_turn": "stop",
    "max_tokens": "length",
}
_hint_malformed = "check base_url: it must point at an OpenAI-compatible API (usually ending in /v1)"
_NO_KEY = "not-needed"  # local servers ignore the key, but the SDK insists on one


@provider_type("openai_compat")
class OpenAICompatProvider:
    """A chat-completions endpoint reached with `openai.AsyncOpenAI`."""

    def __init__(self, settings: ProviderSettings) -> None:
        if not settings.base_url:
            raise RequestFailed(
                f"provider {settings.name!r} has no base_url",
                "config",
                "set base_url in your provider config (see docs/providers.md)",
            )
        self.name = settings.name
        self.settings = settings
        self.policy = RetryPolicy.from_settings(settings)
        self.limiter = RateLimiter(settings.rpm)
        self._client: Any = None
        self._key: str | None = None

    def _api_key(self) -> str:
        env = self.settings.api_key_env
        if not env:
            return _NO_KEY
        key = os.environ.get(env, "").strip()
        if key:
            return key
        if self.name == "vllm":  # vLLM only checks a key when started with --api-key
            return _NO_KEY
        raise RequestFailed(
            f"provider {self.name!r} needs an API key in ${env}, which is not set",
            "config",
            f"export {env}=... (kilngit never stores keys), or replay recorded answers: --cache replay",
        )

    def client(self) -> Any:
        """The SDK client (created at first use). Its HTTP layer is aiohttp, the SDK's own option "for improved
        concurrency performance": at a few hundred requests per second the default connection pool costs
        more CPU than everything else kilngit does per run."""
        if self._client is None:
            import openai  # imported here: commands that never call a model do not pay for the SDK

            self._key = self._api_key()
            self._client = openai.AsyncOpenAI(
                base_url=self.settings.base_url,
                api_key=self._key,
                max_retries=0,
                timeout=self.settings.timeout,
                http_client=openai.DefaultAioHttpClient(),
            )
        return self._client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        client = self.client()
        kwargs = request_kwargs(request)
        started = 0.0

        async def call() -> Any:
            nonlocal started
            started = time.perf_counter()
            # The SDK's generic `post` (same auth, headers, errors and connection handling as
            # `chat.completions.create`) without its typed request transform and response models, which cost
            # more CPU than everything else kilngit does per run. The answer is read from the JSON below.
            return await client.post("/chat/completions", body=kwargs, cast_to=object)

        response = await call_with_retries(
            call, self._classify, self.policy, self.limiter, f"{self.name} model {request.model}"
        )
        latency = (time.perf_counter() - started) * 1000
        return self._answer(response, latency, request.model)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def _answer(self, data: Any, latency_ms: float, model: str) -> ChatResponse:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict) or not isinstance(choices[0].get("message"), dict):
            raise RequestFailed(
                f"{self.name} model {model}: the response is not a chat completion",
                "malformed_response",
                _hint_malformed,
            )
        choice = choices[0]
        message = choice["message"]
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        input_tokens = usage.get("prompt_tokens")
        output_tokens = usage.get("completion_tokens")
        return ChatResponse(
            content=message.get("content"),
            finish_reason=_FINISH.get(choice.get("finish_reason") or "", "unknown"),
            refusal=message.get("refusal"),
            reasoning=message.get("reasoning_content") or message.get("reasoning"),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=round(latency_ms, 1),
            cost=_cost(usage, self.settings.prices.get(model), input_tokens, output_tokens),
            logprobs=_logprobs(choice),
        )

    def _classify(self, e: BaseException) -> Failure | None:
        import openai  # loaded by client() before any error can reach here

        secrets = (self._key,)
        refused = _connection_failure(e)
        if refused is not None:  # the aiohttp layer reports a refused connection as a connect *timeout*
            return Failure(
                "connection", f"cannot connect to {self.settings.base_url} ({redact(refused, secrets)})", True
            )
        if isinstance(e, openai.APITimeoutError):
            return Failure("timeout", f"no answer within {self.settings.timeout:g}s", True)
        if isinstance(e, openai.APIConnectionError):
            cause = redact(str(e.__cause__ or e), secrets)
            return Failure("connection", f"connection failed ({cause})", True)
        if isinstance(e, openai.APIStatusError):
            status = e.status_code
            detail = redact(_error_detail(e), secrets)
            message = f"HTTP {status}: {detail}"
            if status == 429:
                return Failure("rate_limit", message, True, _retry_after(e.response.headers), status)
            if status >= 500 or status in (408, 409):
                return Failure("server_error", message, True, _retry_after(e.response.headers), status)
            reason = {401: "auth", 403: "auth", 404: "not_found"}.get(status, "bad_request")
            return Failure(reason, message, False, None, status)  # type: ignore[arg-type]
        if isinstance(e, (json.JSONDecodeError, openai.APIResponseValidationError)):
            return Failure("malformed_response", "the response body is not a valid chat completion", True)
        return None


def request_kwargs(request: ChatRequest) -> dict[str, Any]:
    """The SDK arguments for a request (parameters left unset are not sent)."""
    kwargs: dict[str, Any] = {"model": request.model, "messages": list(request.messages)}
    for name in ("temperature", "top_p", "max_tokens", "response_format", "seed", "top_logprobs"):
        value = getattr(request, name)
        if value is not None:
            kwargs[name] = value
    if request.logprobs:
        kwargs["logprobs"] = True
    return kwargs


def _error_detail(e: Any) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(e, "message", "") or e)[:300]


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue  # an HTTP date: fall back to our own backoff
    return None


def _cost(
    usage: dict[str, Any], price: dict[str, float] | None, input_tokens: int | None, output_tokens: int | None
) -> float | None:
    reported = usage.get("cost")  # OpenRouter reports it
    if isinstance(reported, (int, float)) and not isinstance(reported, bool):
        return float(reported)
    if price and input_tokens is not None and output_tokens is not None:
        return round((input_tokens * price.get("input", 0) + output_tokens * price.get("output", 0)) / 1e6, 8)
    return None


def _logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    return tuple(
        TokenLogprob(
            t["token"], t["logprob"], tuple((a["token"], a["logprob"]) for a in t.get("top_logprobs") or ())
        )
        for t in content
    )


def _connection_failure(e: BaseException) -> str | None:
    """Why a connection could not be made (refused, reset, unknown host), found in the exception's causes."""
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, (ConnectionRefusedError, ConnectionResetError, socket.gaierror)):
            return f"{type(cause).__name__}: {cause.strerror or cause}"
        if type(cause).__name__ in ("ClientConnectorError", "ClientConnectorDNSError"):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    return None
