"""Provider types by name, and `get_provider`, the one way callers obtain a provider.

A provider *type* is an implementation (e.g. `openai_compat`); a provider *name* is what a run config or judge
names (e.g. `openai`, `ollama`, `my-vllm`), resolved to settings by `kilngit.providers.config`. New types plug in
with the `provider_type` decorator, like inspect_ai's `@modelapi`:

    @provider_type("my_sdk")
    class MyProvider:
        def __init__(self, settings: ProviderSettings) -> None: ...
        async def complete(self, request: ChatRequest) -> ChatResponse: ...
        async def aclose(self) -> None: ...

Built-in types are imported only when first used, so their SDKs are never loaded by commands that do not
call a model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kilngit.providers.base import Provider, RequestFailed
from kilngit.providers.cache import CachingProvider, cache_settings
from kilngit.providers.config import ProviderSettings, provider_settings

if TYPE_CHECKING:
    from kilngit.project import Project

ProviderFactory = Callable[[ProviderSettings], Provider]
F = TypeVar("F", bound=ProviderFactory)

_FACTORIES: dict[str, ProviderFactory] = {}
#: type name -> module that registers it when imported.
BUILTIN_TYPES = {"openai_compat": "kilngit.providers.openai_compat", "mock": "kilngit.providers.mock"}


def provider_type(name: str) -> Callable[[F], F]:
    """Class or function decorator registering a provider factory under a type name."""

    def register(factory: F) -> F:
        _FACTORIES[name] = factory
        return factory

    return register


def create_provider(settings: ProviderSettings) -> Provider:
    """A new provider for these settings (no cache around it)."""
    if settings.type not in _FACTORIES and settings.type in BUILTIN_TYPES:
        importlib.import_module(BUILTIN_TYPES[settings.type])
    factory = _FACTORIES.get(settings.type)
    if factory is None:
        known = sorted(set(_FACTORIES) | set(BUILTIN_TYPES))
        raise RequestFailed(
            f"provider {settings.name!r} has unknown type {settings.type!r}",
            "config",
            f"use one of: {', '.join(known)}",
        )
    return factory(settings)


def get_provider(
    name: str, project: Project | None = None, *, cache: str | None = None, config: Path | None = None
) -> Provider:
    """The provider called `name`, wrapped in the project's record/replay cache unless its mode is off.

    `cache` (record, replay, off) overrides $KILNGIT_CACHE and the project's `recordings.mode`. In replay mode
    the provider is never contacted, so no API key is needed. Close it with `await provider.aclose()`."""
    settings = cache_settings(project, cache)
    if settings.mode == "replay":
        inner: Provider = _Unreachable(name)
    else:
        inner = create_provider(provider_settings(name, config))
    if settings.mode == "off":
        return inner
    return CachingProvider(inner, settings.folder, settings.mode)


class _Unreachable:
    """Stands in for a provider in replay mode: replay never calls it, and needs none of its settings."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def complete(self, request):  # type: ignore[no-untyped-def]
        raise AssertionError("replay mode never calls the provider")

    async def aclose(self) -> None:
        pass
