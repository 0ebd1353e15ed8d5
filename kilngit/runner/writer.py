"""Writing records from asyncio code without stalling it: each atomic write (with its fsyncs) runs on a
writer thread while the caller goes on to its next request.

A write, once started, always finishes, even when the batch is cancelled (Ctrl-C): the writer waits for its
writes on exit, so a stopped batch leaves whole records only. A failed write is raised by the next `write`
or on exit.
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

    def __init__(self, project: Project, threads: int = 1, backlog: int = 256) -> None:
        self.project = project
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kilngit-write")
        self._pending: set[asyncio.Future[Any]] = set()
        self._room = asyncio.Semaphore(backlog)
        self._error: BaseException | None = None

    async def write(self, record: Record, on_done: Callable[[Record], None] | None = None) -> None:
        """Queue `record` for writing; `on_done(record)` runs on the event loop once it is on disk. Waits only
        when `backlog` writes are already queued (a disk slower than the model)."""
        self._raise()
        await self._room.acquire()
        future = asyncio.get_running_loop().run_in_executor(self._pool, self.project.write_record, record)
        self._pending.add(future)

        def finished(f: asyncio.Future[Any]) -> None:
            self._pending.discard(f)
            self._room.release()
            if f.cancelled():
                return
            if f.exception() is not None:
                self._error = self._error or f.exception()
            elif on_done is not None:
                on_done(record)

        future.add_done_callback(finished)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    async def __aenter__(self) -> RecordWriter:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        while self._pending:  # shielded: even a cancelled batch finishes the writes it started
            await asyncio.shield(asyncio.gather(*list(self._pending), return_exceptions=True))
        self._pool.shutdown(wait=True)
        if exc is None:
            self._raise()
