"""The scripted provider and the provider registry."""

from __future__ import annotations

import asyncio

import pytest

from kilngit.providers import (
    ChatRequest,
    ChatResponse,
    RequestFailed,
    create_provider,
    get_provider,
    provider_type,
)
from kilngit.providers.config import ProviderSettings
from kilngit.providers.mock import ScriptedProvider


def req(text: str) -> ChatRequest:
    return ChatRequest(
        model="m", messages=({"role": "system", "content": "s"}, {"role": "user", "content": text})
    )


def test_function_mapping_and_default():
    assert asyncio.run(ScriptedProvider().complete(req("hi"))).content == "mock answer to: hi"
    mapped = ScriptedProvider({"a": "A", "b": ChatResponse(content="B", finish_reason="length")})
    assert asyncio.run(mapped.complete(req("a"))).content == "A"
    assert asyncio.run(mapped.complete(req("b"))).finish_reason == "length"
    with pytest.raises(RequestFailed, match="no scripted answer"):
        asyncio.run(mapped.complete(req("c")))
    assert asyncio.run(ScriptedProvider({}, default="?").complete(req("c"))).content == "?"

    async def answer(request):
        return request.model

    assert asyncio.run(ScriptedProvider(answer).complete(req("x"))).content == "m"


def test_builtin_mock_provider_and_options():
    assert asyncio.run(get_provider("mock").complete(req("x"))).content == "mock answer to: x"
    p = create_provider(
        ProviderSettings(name="demo", type="mock", options={"answers": {"x": "y"}, "default": "z"})
    )
    assert (
        asyncio.run(p.complete(req("x"))).content == "y" and asyncio.run(p.complete(req("q"))).content == "z"
    )


def test_new_provider_types_plug_in():
    @provider_type("constant")
    class Constant:
        def __init__(self, settings):
            self.name = settings.name

        async def complete(self, request):
            return ChatResponse(content="constant")

        async def aclose(self):
            pass

    assert (
        asyncio.run(create_provider(ProviderSettings(name="c", type="constant")).complete(req("x"))).content
        == "constant"
    )
    with pytest.raises(RequestFailed, match="unknown type 'nope'"):
        create_provider(ProviderSettings(name="c", type="nope"))
