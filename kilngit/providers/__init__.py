"""Model providers behind one contract (`base.Provider`), their settings, retries and the record/replay cache.

provider = get_provider("openai", project)          # cache mode from --cache / $KILNGIT_CACHE / kilngit.yaml
answer = await provider.complete(ChatRequest(model="gpt-4o-mini", messages=(...,)))
await provider.aclose()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kilngit.providers.base import ChatRequest, ChatResponse, Provider, RequestFailed, TokenLogprob
    from kilngit.providers.config import ProviderSettings, provider_settings
    from kilngit.providers.registry import create_provider, get_provider, provider_type

# Imported on first use: importing `kilngit.providers.base` (prompts, batch job records) runs this file,
# and should not load the registry, the record/replay cache and asyncio with it.
_EXPORTS = {
    "ChatRequest": "kilngit.providers.base",
    "ChatResponse": "kilngit.providers.base",
    "Provider": "kilngit.providers.base",
    "RequestFailed": "kilngit.providers.base",
    "TokenLogprob": "kilngit.providers.base",
    "ProviderSettings": "kilngit.providers.config",
    "provider_settings": "kilngit.providers.config",
    "create_provider": "kilngit.providers.registry",
    "get_provider": "kilngit.providers.registry",
    "provider_type": "kilngit.providers.registry",
}
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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kilngit.providers' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
