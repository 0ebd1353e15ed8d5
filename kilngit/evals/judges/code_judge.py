"""Code judges: a Python function of the project (`module:function`), run in sandboxed worker processes with a
time limit.

The function is called as `function(task: dict, input: str, output: str)` and returns
`{"scores": {name: value}, "explanation": str}` (optionally "reasoning" and "details"; a plain
`{name: value}` dict is read as the scores). It runs in a separate Python process (the interpreter running
kilngit, isolated with `-I`) inside the sandbox (`kilngit.sandbox`: no network, no secrets, project read-only,
limits) with the project root first on sys.path and as the working folder. A worker judges many runs in a row,
which saves starting the sandbox and importing the judge for every run; a crash, an exit or a time-out ends
that worker (the whole sandbox is killed, children included) and the next run gets a fresh one. Crashes and
timeouts become results with an error, never scores.

Requests and answers travel on a socket of their own, each answer tagged with its request's id; whatever the
judge or its children print goes to a captured log (its tail is kept for crash messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed, verdict_from_scores
from kilngit.evals.judges.registry import Item, judge_type
from kilngit.sandbox import Limits, ProcessTree, require_sandbox
from kilngit.trust import require_trusted

if TYPE_CHECKING:
    from kilngit.project import Project

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


class CodeJudge:
    """Runs one code judge's function for many runs, reusing idle worker processes."""

    def __init__(self, setup: JudgeSetup, limits: Limits | None = None) -> None:
        self.setup = setup
        self.limits = limits or Limits()
        what = f"code judge {setup.judge_slug} ({setup.judge.function})"
        require_trusted(setup.root, what)
        self.sandboxed = require_sandbox(what)
        self.idle: list[_Worker] = []
        self.ids = itertools.count(1)

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        argv = [sys.executable, "-I", str(CHILD), str(self.setup.root), str(theirs.fileno())]
        if self.sandboxed:  # alone in its PID namespace: it may end whatever a judgement left running
            argv.append("reap")
        try:
            tree = await ProcessTree.start(
                argv,
                self.setup.root,
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

    async def judge(
        self, run_input: str, output: str, label: str | None = None, reference: str | None = None
    ) -> Verdict:
        """Call the function on one (input, output) within the judge's `timeout_s`; a function that takes
        `label` / `reference` parameters also gets the human consensus label and reference answer."""
        judge = self.setup.judge
        request_id = next(self.ids)
        line = json.dumps(
            {
                "id": request_id,
                "function": judge.function,
                "task": self.setup.task.to_data(),
                "input": run_input,
                "output": output,
                "label": label,
                "reference": reference,
            }
        ).encode()
        line += b"\n"
        worker = self.idle.pop() if self.idle else await self._spawn()
        try:
            message = await worker.ask(request_id, line, judge.timeout_s)
        except TimeoutError:
            await worker.stop()
            return failed(f"timeout: {judge.function} took longer than {judge.timeout_s:g}s", kind="timeout")
        except (BrokenPipeError, ConnectionResetError):
            message = None
        except ValueError as e:  # not JSON, or not ours: the worker cannot be trusted with more runs
            await worker.stop()
            return failed(f"crash: {judge.function} wrote an unreadable answer: {e}", kind="crash")
        except BaseException:  # cancelled (Ctrl-C) or a bug: leave no judge process behind
            await worker.stop()
            raise
        if message is None:  # the worker died mid-way: exit, signal, os._exit, a limit...
            tail = await worker.stop(grace=5)  # its exit code says why
            code = worker.proc.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return failed(
                f"crash: {judge.function} ended without an answer ({how})" + (f": {tail}" if tail else ""),
                kind="crash",
            )
        self.idle.append(worker)
        if "error" in message:
            return failed(f"crash: {message['error']}", kind="exception")
        return _from_answer(self.setup, message.get("answer"))

    async def aclose(self) -> None:
        while self.idle:
            await self.idle.pop().stop()


@judge_type("code")
class CodeType:
    """The `code` judge type: a `CodeJudge` given the humans' label and reference of each input."""

    def __init__(self, setup: JudgeSetup, project: Project, cache: str | None) -> None:
        self.code = CodeJudge(setup)

    async def judge(self, item: Item) -> Verdict:
        return await self.code.judge(item.run_input, item.output, item.truth.label, item.truth.reference)

    async def aclose(self) -> None:
        await self.code.aclose()


def _from_answer(setup: JudgeSetup, answer: Any) -> Verdict:
    if not isinstance(answer, dict):
        return failed(
            f"malformed: {setup.judge.function} returned {type(answer).__name__}, expected a dict "
            "with scores and explanation",
            kind="malformed",
        )
    if "scores" not in answer:
        answer = {"scores": answer}
    details = answer.get("details") if isinstance(answer.get("details"), dict) else None
    explanation, reasoning = answer.get("explanation"), answer.get("reasoning")
    verdict = verdict_from_scores(answer["scores"], setup, _text(explanation), _text(reasoning), details)
    if verdict.error:
        verdict.error = f"malformed: {verdict.error}"
    return verdict


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
