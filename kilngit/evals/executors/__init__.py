"""Executors by name: where `run eval` runs code judges (`--executor`). Each is one module with a
`create(address)` function returning an `Executor` (`base.py`); its imports (Ray's SDK) load only when used.

    with open_executor("ray", address=None) as executor:   # None: $RAY_ADDRESS, else a local Ray
        run_eval(project, task, "correctness", executor=executor)
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from kilngit.errors import UsageError
from kilngit.evals.executors.base import CodeRunner, Executor

#: executor name -> module with `create(address: str | None) -> Executor`.
EXECUTORS = {"local": "kilngit.evals.executors.local", "ray": "kilngit.evals.executors.ray_cluster"}

__all__ = ["EXECUTORS", "CodeRunner", "Executor", "get_executor", "open_executor"]


def get_executor(name: str, address: str | None = None) -> Executor:
    """The executor called `name`, connected (`address`: where its cluster is, for those that have one)."""
    if name not in EXECUTORS:
        raise UsageError(f"unknown executor {name!r}", f"use one of: {', '.join(EXECUTORS)}")
    if address and name == "local":
        raise UsageError(
            "an address is only for a cluster executor", "add --executor ray, or drop the address"
        )
    executor: Executor = importlib.import_module(EXECUTORS[name]).create(address)
    return executor


@contextlib.contextmanager
def open_executor(executor: str | Executor = "local", address: str | None = None) -> Iterator[Executor]:
    """`get_executor` closed afterwards; an `Executor` given as such is used as is and left open."""
    if not isinstance(executor, str):
        yield executor
        return
    opened = get_executor(executor, address)
    try:
        yield opened
    finally:
        opened.close()
