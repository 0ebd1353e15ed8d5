"""Child process of a code judge (standard library only; run as a script, never imported by kilngit).

    python code_child.py PROJECT_ROOT < {"function": "mod:fn", "task": {...}, "input": "...", "output": "..."}

Imports `mod` with the project root first on sys.path, calls `fn(task, input, output)`, and writes one JSON
object to stdout: the function's return value, or {"__error__": "..."} when it raised. Anything the function
prints goes to stderr so it cannot corrupt the answer.
"""

import importlib
import json
import sys
import traceback


def main() -> int:
    root = sys.argv[1]
    sys.path[0] = root  # replaces this script's own folder, whose modules must not shadow the project's
    request = json.loads(sys.stdin.read())
    answer_stream = sys.stdout
    sys.stdout = sys.stderr
    try:
        module_name, function_name = request["function"].split(":")
        function = getattr(importlib.import_module(module_name), function_name)
        answer = function(request["task"], request["input"], request["output"])
        payload = json.dumps({"__answer__": answer}, default=str)
    except Exception as e:  # the judge's own bug: report it as the result's error
        frames = traceback.extract_tb(e.__traceback__)
        where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
        payload = json.dumps({"__error__": f"{type(e).__name__}: {e}{where}"})
    answer_stream.write(payload)
    answer_stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
