"""The Ray actor that runs code judgements on a cluster worker: one per CPU slot, each with the same
sandboxed worker processes a local run uses (`CodePool`), over the project code it was sent
(`bundle.CodeBundle`, unpacked once per bundle into a private folder of the worker's temp dir).

It needs kilngit (the same version as the coordinator) and bubblewrap on the worker, never the project's
checkout, keys or git. It answers plain JSON-able dicts and writes nothing but its unpacked code: results are
written by the coordinator.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kilngit.evals.executors.bundle import CodeBundle
from kilngit.evals.judges.code_pool import CodePool
from kilngit.sandbox import probe

PREFIX = "kilngit-ray-"


class JudgeSlot:
    """One code judgement at a time on one worker CPU (made a Ray actor by `ray_cluster`)."""

    def __init__(self) -> None:
        _clean_leftovers()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.roots: dict[str, Path] = {}
        self.pools: dict[tuple[str, bool], CodePool] = {}

    def hello(self) -> dict[str, Any]:
        """Where this slot runs and what it can do: its host, kilngit version, and why the sandbox cannot
        start here (None when it can)."""
        return {"host": socket.gethostname(), "kilngit": version("kilngit"), "sandbox_problem": probe()}

    async def judge(
        self, digest: str, bundle: list[Any], sandboxed: bool, timeout_s: float, request: dict[str, Any]
    ) -> dict[str, Any]:
        """`CodePool.call` over the bundle `digest`; `bundle` holds the bundle's object reference, fetched the
        first time this slot sees the digest (a list, so Ray passes the reference rather than the value)."""
        if digest not in self.roots:
            code: CodeBundle = await bundle[0]
            self.roots[digest] = code.unpack(self.folder / digest[:16])
        key = (digest, sandboxed)
        if key not in self.pools:
            self.pools[key] = CodePool(self.roots[digest], sandboxed=sandboxed)
        return await self.pools[key].call(request, timeout_s)

    async def close(self) -> None:
        """End every sandbox of this slot and remove its code."""
        for pool in self.pools.values():
            await pool.aclose()
        shutil.rmtree(self.folder, ignore_errors=True)


def _clean_leftovers() -> None:
    """Remove the code folders of slots whose process is gone (killed with the job, or the worker died)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
