"""Fine-tune backends by name, and `get_backend`, the one way callers obtain one.

A fine-tune spec's `provider` names its backend. Each backend is one module that registers itself when
imported; built-in ones are imported only when first used, so their SDKs load only when needed:

    openai.py     OpenAI files + fine-tuning jobs (hosted)
    fireworks.py  Fireworks datasets + supervised fine-tuning jobs (hosted)
    together.py   Together files + fine-tunes (hosted)
    tinker.py     Tinker LoRA training driven from this process

    base.py       the `FineTuneBackend` and `HostedAPI` protocols
    hosted.py     upload / create / poll / cancel for any `HostedAPI`, each call at most once

Adding a backend: a module here calling `finetune_backend(...)`, a line in `BUILTIN`, and its tests (a
loopback fake of its wire protocol in `kilngit/testing`). See docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from kilngit.errors import UsageError
from kilngit.finetune.backends.base import FineTuneBackend

B = TypeVar("B", bound=FineTuneBackend)

#: backend name -> module that registers it when imported.
BUILTIN = {
    "openai": "kilngit.finetune.backends.openai",
    "tinker": "kilngit.finetune.backends.tinker",
    "fireworks": "kilngit.finetune.backends.fireworks",
    "together": "kilngit.finetune.backends.together",
}
_BACKENDS: dict[str, FineTuneBackend] = {}


def finetune_backend(backend: B) -> B:
    """Register a backend under its `name` (a later registration of the same name wins)."""
    _BACKENDS[backend.name] = backend
    return backend


def backend_names() -> list[str]:
    """Every backend that can be used, built-in and registered."""
    return sorted(set(BUILTIN) | set(_BACKENDS))


def get_backend(name: str) -> FineTuneBackend:
    """The backend called `name`; an unknown name is refused (never mapped to another backend)."""
    if name not in _BACKENDS and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    backend = _BACKENDS.get(name)
    if backend is None:
        raise UsageError(
            f"no fine-tune backend {name!r}: kilngit does not run fine-tunes there",
            f"set provider to one of: {', '.join(backend_names())} (in finetune.yaml, or "
            "kilngit finetune create --provider)",
        )
    return backend
