"""Writing records from asyncio code without stalling it: each record goes down a pipe to a writer process
(`kilngit._write_worker`), which writes it atomically and durably and says so; the caller goes on to its next
request meanwhile.

A write, once handed over, always finishes, even when the batch is cancelled (Ctrl-C): on exit the writer
flushes the pipe and waits for the process, which ignores SIGINT, so a stopped batch leaves whole records only.
A failed write is raised by the next `write` or on exit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import deque
from collections.abc import Callable
from types import TracebackType

from kilngit._child import python_module
from kilngit._temps import bulk_writing
from kilngit._write_worker import frame
from kilngit.errors import KilngitError
from kilngit.project import Project
from kilngit.records import Record


class RecordWriter:
    """`async with RecordWriter(project) as w: await w.write(record, on_done)`."""

    def __init__(self, project: Project, backlog: int = 256) -> None:
        self.project = project
        self._backlog = backlog
        self._pending: deque[tuple[Record, Callable[[Record], None] | None]] = deque()
        """Records sent and not yet answered, in the order sent (the worker answers in that order)."""
        self._unsent = bytearray()
        self._answers = bytearray()
        self._error: BaseException | None = None
        self._waiting_to_send = False

    async def write(self, record: Record, on_done: Callable[[Record], None] | None = None) -> None:
        """Queue `record` for writing; `on_done(record)` runs on the event loop once it is on disk. Waits only
        when `backlog` writes are already queued (a disk slower than the model)."""
        self._raise()
        await self._room.acquire()
        record, relpath, data = self.project.record_file(record)
        self._pending.append((record, on_done))
        self._unsent += frame(relpath, data)
        if not self._waiting_to_send:
            self._send()

    async def __aenter__(self) -> RecordWriter:
        self._loop = asyncio.get_running_loop()
        self._bulk = bulk_writing(self.project.root)  # if all of us are killed, the next command sweeps
        self._bulk.__enter__()
        self._room = asyncio.Semaphore(self._backlog)
        self._process = subprocess.Popen(
            python_module("kilngit._write_worker", str(self.project.root)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )  # Ctrl-C is for the batch, not its writes
        self._to_worker = self._process.stdin.fileno()  # type: ignore[union-attr]
        self._from_worker = self._process.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self._to_worker, False)
        os.set_blocking(self._from_worker, False)
        self._loop.add_reader(self._from_worker, self._read_answers)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._finish()
        finally:
            self._bulk.__exit__(None, None, None)
        if exc is None:
            self._raise()

    def _send(self) -> None:
        try:
            sent = os.write(self._to_worker, self._unsent)
        except BlockingIOError:
            sent = 0
        except BrokenPipeError:  # the worker is gone; `_finish` reports what it did not write
            sent = len(self._unsent)
        del self._unsent[:sent]
        if self._unsent and not self._waiting_to_send:
            self._loop.add_writer(self._to_worker, self._send)
        elif not self._unsent and self._waiting_to_send:
            self._loop.remove_writer(self._to_worker)
        self._waiting_to_send = bool(self._unsent)

    def _read_answers(self) -> None:
        try:
            chunk = os.read(self._from_worker, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            self._loop.remove_reader(self._from_worker)
        self._answered(chunk)

    def _answered(self, chunk: bytes) -> None:
        self._answers += chunk
        *lines, rest = self._answers.split(b"\n")
        self._answers = bytearray(rest)
        for line in lines:
            record, on_done = self._pending.popleft()
            self._room.release()
            if line == b"+":
                self.project.remember(record)
                if on_done is not None:
                    on_done(record)
            else:
                self._error = self._error or KilngitError(
                    f"could not write {line[1:].decode()}",
                    "check that the project folder is writable and has room",
                )

    def _finish(self) -> None:
        """Hand over what is left, close the pipe and wait for the worker's last answers. Blocking on
        purpose: this also runs when the batch is cancelled, and must not depend on the event loop going on."""
        self._loop.remove_reader(self._from_worker)
        self._loop.remove_writer(self._to_worker)
        os.set_blocking(self._to_worker, True)
        os.set_blocking(self._from_worker, True)
        try:
            while self._unsent:
                del self._unsent[: os.write(self._to_worker, self._unsent)]
        except BrokenPipeError:
            pass
        self._process.stdin.close()  # type: ignore[union-attr]
        while chunk := os.read(self._from_worker, 1 << 16):
            self._answered(chunk)
        self._process.stdout.close()  # type: ignore[union-attr]
        code = self._process.wait()
        if self._pending:
            self._error = self._error or KilngitError(
                f"the record writer process stopped (exit code {code}) before writing {len(self._pending)} "
                "records",
                "run the same command again: what was not written is redone",
            )

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
