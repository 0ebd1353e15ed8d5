"""Model providers behind one contract (`base.Provider`), their settings, retries and the record/replay cache.

provider = get_provider("openai", project)          # cache mode from --cache / $KILNGIT_CACHE / kilngit.yaml
answer = await provider.complete(ChatRequest(model="gpt-4o-mini", messages=(...,)))
await provider.aclose()
"""

from __future__ import annotations

from kilngit.providers.base import ChatRequest, ChatResponse, Provider, RequestFailed, TokenLogprob
from kilngit.providers.config import ProviderSettings, provider_settings
from kilngit.providers.registry import create_provider, get_provider, provider_type

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Provider",
    "ProviderSettings",
    "RequestFailed",
    "TokenLogprob",
    "create_provider",
    "get_provider",
    "provider_settings",
    "provider_type",
]
