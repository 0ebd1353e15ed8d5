"""Writing records from asyncio code without stalling it: each atomic write (with its fsyncs) runs on a small
thread pool, so answers keep flowing while the disk syncs.

A write, once started, always finishes, even when the batch is cancelled (Ctrl-C): the writer waits for its
writes on exit, so a stopped batch leaves whole records only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from kilngit.project import Project
from kilngit.records import Record


class RecordWriter:
    """`async with RecordWriter(project) as w: await w.write(record, on_done)`."""

    def __init__(self, project: Project, threads: int = 4) -> None:
        self.project = project
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kilngit-write")
        self._pending: set[asyncio.Future[Any]] = set()

    async def write(self, record: Record, on_done: Callable[[Record], None] | None = None) -> None:
        """Write `record`; `on_done(record)` runs (on the event loop) once it is on disk."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, self.project.write_record, record)
        self._pending.add(future)

        def finished(f: asyncio.Future[Any]) -> None:
            self._pending.discard(f)
            if on_done is not None and not f.cancelled() and f.exception() is None:
                on_done(record)

        future.add_done_callback(finished)
        await asyncio.shield(future)  # cancelling the caller must not abandon a write half-way

    async def __aenter__(self) -> RecordWriter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        self._pool.shutdown(wait=True)
