"""Code judges: a Python function of the project (`module:function`), run in worker processes with a time limit.

The function is called as `function(task: dict, input: str, output: str)` and returns
`{"scores": {name: value}, "explanation": str}` (optionally "reasoning" and "details"; a plain
`{name: value}` dict is read as the scores). It runs in a separate Python process (the interpreter running
kilngit, isolated with `-I`) with the project root first on sys.path and as the working folder, in its own process group. A worker
judges many runs in a row, which saves starting Python and importing the judge for every run; a crash, an
exit or a time-out ends that worker (the whole process group is killed, children included) and the next run
gets a fresh one. Crashes and timeouts become results with an error, never scores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed, verdict_from_scores

CHILD = Path(__file__).with_name("code_child.py")
STDERR_TAIL = 600
MAX_ANSWER = 16 << 20


class _Worker:
    """One worker process and the tail of what it wrote to stderr."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.tail = bytearray()
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(4096):
            self.tail = (self.tail + chunk)[-STDERR_TAIL * 4:]

    async def ask(self, line: bytes, timeout: float) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line)
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self.proc.stdout.readline(), timeout)

    async def stop(self) -> str:
        """Kill the worker's process group; return the end of its stderr."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain, 1)
        return self.tail.decode("utf-8", "replace").strip()[-STDERR_TAIL:]


class CodeJudge:
    """Runs one code judge's function for many runs, reusing idle worker processes."""

    def __init__(self, setup: JudgeSetup) -> None:
        self.setup = setup
        self.idle: list[_Worker] = []

    async def _spawn(self) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(CHILD), str(self.setup.root), cwd=self.setup.root, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            limit=MAX_ANSWER, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        return _Worker(proc)

    async def judge(self, run_input: str, output: str, label: str | None = None,
                    reference: str | None = None) -> Verdict:
        """Call the function on one (input, output) within the judge's `timeout_s`; a function that takes
        `label` / `reference` parameters also gets the human consensus label and reference answer."""
        judge = self.setup.judge
        line = json.dumps({"function": judge.function, "task": self.setup.task.to_data(), "input": run_input,
                           "output": output, "label": label, "reference": reference}).encode() + b"\n"
        worker = self.idle.pop() if self.idle else await self._spawn()
        try:
            answer = await worker.ask(line, judge.timeout_s)
        except TimeoutError:
            await worker.stop()
            return failed(f"timeout: {judge.function} took longer than {judge.timeout_s:g}s", kind="timeout")
        except (BrokenPipeError, ConnectionResetError):
            answer = b""
        except BaseException:  # cancelled (Ctrl-C) or a bug: leave no judge process behind
            await worker.stop()
            raise
        if not answer.endswith(b"\n"):  # the worker died mid-way: exit, signal, os._exit...
            tail = await worker.stop()
            code = worker.proc.returncode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return failed(f"crash: {judge.function} ended without an answer ({how})" + (f": {tail}" if tail else ""),
                          kind="crash")
        self.idle.append(worker)
        return _verdict(self.setup, answer)

    async def aclose(self) -> None:
        while self.idle:
            worker = self.idle.pop()
            assert worker.proc.stdin is not None
            worker.proc.stdin.close()
            await worker.stop()


def _verdict(setup: JudgeSetup, line: bytes) -> Verdict:
    try:
        message = json.loads(line)
    except ValueError:
        return failed(f"crash: {setup.judge.function} wrote an unreadable answer", kind="crash")
    if "__error__" in message:
        return failed(f"crash: {message['__error__']}", kind="exception")
    return _from_answer(setup, message.get("__answer__"))


def _from_answer(setup: JudgeSetup, answer: Any) -> Verdict:
    if not isinstance(answer, dict):
        return failed(f"malformed: {setup.judge.function} returned {type(answer).__name__}, expected a dict "
                      "with scores and explanation", kind="malformed")
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
