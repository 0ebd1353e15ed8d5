"""A scripted provider for unit tests and demos (in the spirit of inspect_ai's `mockllm`): deterministic
answers from a function or a mapping, no network.

    provider = ScriptedProvider(lambda req: "ffmpeg -i in.mov out.mp4")
    provider = ScriptedProvider({"convert in.mov to mp4": "ffmpeg -i in.mov out.mp4"}, default="no idea")

A mapping is looked up by the text of the last user message. Answers may be strings or full
`ChatResponse`s (to script truncation, refusals, reasoning...). The built-in provider name `mock` uses it; its
settings' `options` may hold `answers` (a mapping) and `default` (a string).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping

from kilngit.providers.base import ChatRequest, ChatResponse, RequestFailed
from kilngit.providers.config import ProviderSettings
from kilngit.providers.registry import provider_type

Answer = str | ChatResponse
Script = Callable[[ChatRequest], Answer | Awaitable[Answer]] | Mapping[str, Answer]


def last_user_text(request: ChatRequest) -> str:
    """Text of the last user message of a request."""
    for message in reversed(request.messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def echo(request: ChatRequest) -> str:
    """The default script: `mock answer to: <last user message>`."""
    return f"mock answer to: {last_user_text(request)}"


class ScriptedProvider:
    """Answers from a script; records every request in `requests`."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        name: str = "mock",
        default: Answer | None = None,
        latency: float = 0.0,
    ) -> None:
        self.name = name
        self.script = script if script is not None else echo
        self.default = default
        self.latency = latency
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        answer = await self._answer(request)
        if isinstance(answer, ChatResponse):
            return answer
        words = len(str(answer).split())
        prompt_words = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        return ChatResponse(
            content=answer, input_tokens=prompt_words, output_tokens=words, latency_ms=self.latency * 1000
        )

    async def _answer(self, request: ChatRequest) -> Answer:
        if isinstance(self.script, Mapping):
            text = last_user_text(request)
            if text in self.script:
                return self.script[text]
            if self.default is not None:
                return self.default
            raise RequestFailed(
                f"{self.name}: no scripted answer for {text[:80]!r}",
                "bad_request",
                "add it to the script's mapping or give a default",
            )
        result = self.script(request)
        return await result if inspect.isawaitable(result) else result  # type: ignore[return-value]

    async def aclose(self) -> None:
        pass


@provider_type("mock")
def mock_from_settings(settings: ProviderSettings) -> ScriptedProvider:
    """The `mock` provider type: answers from `options.answers`, else `options.default`, else an echo."""
    answers = settings.options.get("answers")
    default = settings.options.get("default")
    if answers is not None:
        return ScriptedProvider(dict(answers), name=settings.name, default=default)
    return ScriptedProvider((lambda _req: default) if default is not None else echo, name=settings.name)
