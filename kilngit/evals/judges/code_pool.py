"""Sandboxed worker processes that call a project's Python functions: the part of a code judge that runs
project code, shared by the local process pool and the workers of a cluster (`kilngit.evals.executors`).

    pool = CodePool(root, sandboxed=True)
    message = await pool.call({"function": "mod:fn", "task": {...}, "input": ..., "output": ...}, timeout_s=30)
    # {"answer": value} | {"error": "the function raised..."} | {"failed": "timeout: ...", "kind": "timeout"}
    await pool.aclose()

Each worker (`code_child.py`, the interpreter running kilngit with `-I`) judges many requests in a row; a
crash, an exit or a time-out ends that worker (the whole sandbox is killed, children included) and the next
request gets a fresh one. Requests and answers travel on a socket of their own, each answer tagged with its
request's id; whatever the function or its children print goes to a captured log (its tail is kept for crash
messages). The caller checks trust and whether the sandbox may be skipped; this module only runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import sys
from pathlib import Path
from typing import Any

from kilngit.sandbox import Limits, ProcessTree

CHILD = Path(__file__).with_name("code_child.py")
LOG_TAIL = 600
MAX_ANSWER = 16 << 20


class _Worker:
    """One worker process, its end of the request socket, and the tail of its captured output."""

    def __init__(self, tree: ProcessTree, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tree, self.proc, self.reader, self.writer = tree, tree.proc, reader, writer
        self.tail = bytearray()
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(4096):
            self.tail = (self.tail + chunk)[-LOG_TAIL * 4 :]

    async def ask(self, request_id: int, line: bytes, timeout: float) -> dict | None:
        """The answer to one request, or None when the worker ended without one."""
        self.writer.write(line)
        await self.writer.drain()
        answer = await asyncio.wait_for(self.reader.readline(), timeout)
        if not answer.endswith(b"\n"):
            return None
        message = json.loads(answer)
        if not isinstance(message, dict) or message.get("id") != request_id:
            raise ValueError(f"an answer for another request ({str(message)[:80]})")
        return message

    async def stop(self, grace: float = 0) -> str:
        """Kill the worker's process group (the sandbox, and so everything in it), after `grace` seconds for it
        to end by itself; return the end of its log."""
        if grace:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace)
        await self.tree.kill()
        self.writer.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain, 1)
        return self.tail.decode("utf-8", "replace").strip()[-LOG_TAIL:]


class CodePool:
    """Worker processes calling functions of the project at `root`, idle ones reused."""

    def __init__(self, root: Path, *, sandboxed: bool, limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.sandboxed = sandboxed
        self.limits = limits or Limits()
        self.idle: list[_Worker] = []
        self.ids = itertools.count(1)

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-I", str(CHILD), str(self.root), str(theirs.fileno())]
        if self.sandboxed:  # alone in its PID namespace: it may end whatever a judgement left running
            argv.append("reap")
        try:
            tree = await ProcessTree.start(
                argv,
                self.root,
                sandboxed=self.sandboxed,
                limits=self.limits,
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=MAX_ANSWER)
        return _Worker(tree, reader, writer)

    async def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Call `request["function"]` (see `code_child.py` for the request's fields) within `timeout_s`:
        `{"answer": value}`, `{"error": message}` when the function raised, or `{"failed": message, "kind":
        "timeout" | "crash"}` when the worker timed out, died or answered something unreadable."""
        function = request["function"]
        request_id = next(self.ids)
        line = json.dumps({**request, "id": request_id}).encode() + b"\n"
        worker = self.idle.pop() if self.idle else await self._spawn()
        try:
            message = await worker.ask(request_id, line, timeout_s)
        except TimeoutError:
            await worker.stop()
            return {"failed": f"timeout: {function} took longer than {timeout_s:g}s", "kind": "timeout"}
        except (BrokenPipeError, ConnectionResetError):
            message = None
        except ValueError as e:  # not JSON, or not ours: the worker cannot be trusted with more runs
            await worker.stop()
            return {"failed": f"crash: {function} wrote an unreadable answer: {e}", "kind": "crash"}
        except BaseException:  # cancelled (Ctrl-C) or a bug: leave no judge process behind
            await worker.stop()
            raise
        if message is None:  # the worker died mid-way: exit, signal, os._exit, a limit...
            tail = await worker.stop(grace=5)  # its exit code says why
            code = worker.proc.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return {
                "failed": f"crash: {function} ended without an answer ({how})"
                + (f": {tail}" if tail else ""),
                "kind": "crash",
            }
        self.idle.append(worker)
        if "error" in message:
            return {"error": str(message["error"])}
        return {"answer": message.get("answer")}

    async def aclose(self) -> None:
        while self.idle:
            await self.idle.pop().stop()
