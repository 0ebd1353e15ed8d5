"""Worker process of a code judge (standard library only; run as a script, never imported by kilngit).

    python -I code_child.py PROJECT_ROOT FD [reap]

Talks to kilngit over the socket FD only: reads one JSON request per line,
{"id": N, "function": "mod:fn", "task": {...}, "input": "...", "output": "...", "label": ..., "reference": ...},
imports `mod` (once) with the project root first on sys.path, calls `fn(task, input, output)` (with `label=` and
`reference=`, the human consensus for the input, when fn has those parameters), and answers one JSON line tagged
with the same id: {"id": N, "answer": <return value>}, or {"id": N, "error": "..."} when the function raised. The
socket is not inherited by anything the function starts, and stdin/stdout/stderr are not part of the protocol
(kilngit captures them as a log), so neither a print nor a child process can be taken for an answer.

With `reap` (given only inside the sandbox, where this worker shares its PID namespace with nothing but the
sandbox's init, PID 1), every process a judgement left running, daemons included, is killed before its answer
is sent, so nothing of one judgement outlives it while the worker is reused for the next.
"""

import contextlib
import ctypes
import importlib
import inspect  # imported before the project root is on sys.path, like every module used here
import json
import os
import signal
import socket
import sys
import traceback


def main() -> int:
    root, fd = sys.argv[1], int(sys.argv[2])
    reap = sys.argv[3:] == ["reap"]
    if reap:
        _become_subreaper()
    channel = socket.socket(fileno=fd)
    channel.set_inheritable(False)  # the judge's own children never see it
    reader, writer = channel.makefile("rb"), channel.makefile("wb")
    sys.path.insert(0, root)  # started with -I: neither this script's folder nor the cwd is on the path
    functions = {}
    for line in reader:
        request = json.loads(line)
        try:
            target = request["function"]
            if target not in functions:
                module_name, function_name = target.split(":")
                functions[target] = getattr(importlib.import_module(module_name), function_name)
            fn = functions[target]
            extra = {k: request.get(k) for k in ("label", "reference") if _takes(fn, k)}
            answer = fn(request["task"], request["input"], request["output"], **extra)
            payload = json.dumps({"id": request["id"], "answer": answer}, default=str)
        except Exception as e:  # the judge's own bug: report it as the result's error
            frames = traceback.extract_tb(e.__traceback__)
            where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            payload = json.dumps({"id": request["id"], "error": f"{type(e).__name__}: {e}{where}"})
        if reap:
            _end_leftovers()
        writer.write(payload.encode() + b"\n")
        writer.flush()
    return 0


def _become_subreaper():
    """Orphans of a judgement (a double-forked daemon) become this worker's children instead of PID 1's, so
    waiting for children covers every process a judgement left."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _end_leftovers():
    """Kill every process of the PID namespace but its init and this worker, and wait until none is left:
    each death is waited for, and whatever a dying process forked is this worker's child too (subreaper), so
    it is seen and killed in the next round."""
    me = os.getpid()
    while True:
        for pid in _pids():
            if pid not in (1, me):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _takes(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


if __name__ == "__main__":
    sys.exit(main())
