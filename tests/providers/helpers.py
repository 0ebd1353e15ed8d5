"""Shared test helpers for providers."""

from __future__ import annotations

import asyncio

from kilngit.providers.base import ChatRequest, ChatResponse, Provider


def complete(provider: Provider, request: ChatRequest) -> ChatResponse:
    """Ask one request and close the provider."""

    async def go() -> ChatResponse:
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    return asyncio.run(go())
