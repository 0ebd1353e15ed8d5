"""Worker process of a code judge (standard library only; run as a script, never imported by kilngit).

    python -I code_child.py PROJECT_ROOT FD

Talks to kilngit over the socket FD only: reads one JSON request per line,
{"id": N, "function": "mod:fn", "task": {...}, "input": "...", "output": "...", "label": ..., "reference": ...},
imports `mod` (once) with the project root first on sys.path, calls `fn(task, input, output)` (with `label=` and
`reference=`, the human consensus for the input, when fn has those parameters), and answers one JSON line tagged
with the same id: {"id": N, "answer": <return value>}, or {"id": N, "error": "..."} when the function raised. The
socket is not inherited by anything the function starts, and stdin/stdout/stderr are not part of the protocol
(kilngit captures them as a log), so neither a print nor a child process can be taken for an answer.
"""

import importlib
import inspect  # imported before the project root is on sys.path, like every module used here
import json
import socket
import sys
import traceback


def main() -> int:
    root, fd = sys.argv[1], int(sys.argv[2])
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
        writer.write(payload.encode() + b"\n")
        writer.flush()
    return 0


def _takes(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


if __name__ == "__main__":
    sys.exit(main())
