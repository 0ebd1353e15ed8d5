"""The local cache of what reading and checking each file found, under `.kilngit/cache/`.

Machine-local (never committed), safe to delete, rebuilt transparently, and never a second source of truth:
an entry is used only while the file's path and `lstat` key are what they were when it was read (`keys`),
and a cross-file problem only while everything its check looked at is unchanged (`facts`). `validate` and
the project loader (`Project.records`) both go through it; `kilngit validate --no-cache` (or
`KILNGIT_NO_CACHE=1` for any command) reads everything afresh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kilngit.cache.facts import Facts
    from kilngit.cache.files import file_facts
    from kilngit.cache.store import Store, open_store

# Imported on first use: the warm `validate` starts git (`cache.index`) before the record models load.
_EXPORTS = {
    "Facts": "kilngit.cache.facts",
    "file_facts": "kilngit.cache.files",
    "Store": "kilngit.cache.store",
    "open_store": "kilngit.cache.store",
}
__all__ = ["Facts", "Store", "file_facts", "open_store"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kilngit.cache' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
