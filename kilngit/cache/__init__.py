"""The local cache of what reading and checking each file found, under `.kilngit/cache/`.

Machine-local (never committed), safe to delete, rebuilt transparently, and never a second source of truth:
an entry is used only while the file's path and `lstat` key are what they were when it was read (`keys`),
and a cross-file problem only while everything its check looked at is unchanged (`facts`). `validate` and
the project loader (`Project.records`) both go through it; `kilngit validate --no-cache` (or
`KILNGIT_NO_CACHE=1` for any command) reads everything afresh.
"""

from kilngit.cache.facts import Facts
from kilngit.cache.files import file_facts
from kilngit.cache.store import Store, open_store

__all__ = ["Facts", "Store", "file_facts", "open_store"]
