"""Worker process of a code judge (standard library only; run as a script, never imported by kilngit).

    python code_child.py PROJECT_ROOT

Reads one JSON request per line on stdin, {"function": "mod:fn", "task": {...}, "input": "...", "output": "..."},
imports `mod` (once) with the project root first on sys.path, calls `fn(task, input, output)` (with `label=` and
`reference=`, the human consensus for the input, when fn has those parameters), and writes one
JSON line to stdout per request: {"__answer__": <return value>}, or {"__error__": "..."} when the function
raised. Anything the function prints goes to stderr so it cannot corrupt the answers. A function that exits
the process or hangs is the parent's to notice (it sees end of file, or its time limit passes).
"""

import importlib
import json
import sys
import traceback


def main() -> int:
    sys.path.insert(0, sys.argv[1])  # started with -I: neither this script's folder nor the cwd is on the path
    answers = sys.stdout
    sys.stdout = sys.stderr
    functions = {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            target = request["function"]
            if target not in functions:
                module_name, function_name = target.split(":")
                functions[target] = getattr(importlib.import_module(module_name), function_name)
            fn = functions[target]
            extra = {k: request.get(k) for k in ("label", "reference") if _takes(fn, k)}
            answer = fn(request["task"], request["input"], request["output"], **extra)
            payload = json.dumps({"__answer__": answer}, default=str)
        except Exception as e:  # the judge's own bug: report it as the result's error
            frames = traceback.extract_tb(e.__traceback__)
            where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
            payload = json.dumps({"__error__": f"{type(e).__name__}: {e}{where}"})
        answers.write(payload + "\n")
        answers.flush()
    return 0


def _takes(fn, name):
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


if __name__ == "__main__":
    sys.exit(main())
