"""Code judges: a Python function of the project (`module:function`), run in its own process with a time limit.

The function is called as `function(task: dict, input: str, output: str)` and returns
`{"scores": {name: value}, "explanation": str}` (optionally "reasoning" and "details"; a plain
`{name: value}` dict is read as the scores). It runs in a fresh Python process (the one running kilngit) with
the project root first on sys.path and as the working folder, in its own process group, so a crash, an
endless loop or a child process it leaves behind cannot take kilngit down: a timeout kills the whole group.
Crashes and timeouts become results with an error, never scores.
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


async def run_code_judge(setup: JudgeSetup, run_input: str, output: str) -> Verdict:
    """Call the judge's function on one (input, output) in a child process, within `timeout_s`."""
    judge = setup.judge
    request = json.dumps({"function": judge.function, "task": setup.task.to_data(), "input": run_input,
                          "output": output}).encode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(setup.root), cwd=setup.root, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(request), judge.timeout_s)
    except asyncio.TimeoutError:
        _kill_group(proc)
        await proc.wait()
        return failed(f"timeout: {judge.function} took longer than {judge.timeout_s:g}s", kind="timeout")
    except BaseException:  # cancelled (Ctrl-C): leave no judge process behind
        _kill_group(proc)
        raise
    finally:
        _kill_group(proc)  # children the judge left running
    return _verdict(setup, proc.returncode, stdout, stderr)


def _verdict(setup: JudgeSetup, returncode: int | None, stdout: bytes, stderr: bytes) -> Verdict:
    tail = stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
    try:
        message = json.loads(stdout)
    except ValueError:
        how = f"killed by signal {-returncode}" if returncode and returncode < 0 else f"exit code {returncode}"
        return failed(f"crash: {setup.judge.function} ended without an answer ({how})"
                      + (f": {tail}" if tail else ""), kind="crash")
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


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
