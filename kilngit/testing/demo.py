"""Starting a fake server from the command line, to try kilngit without an API key (docs/providers.md):

    python -m kilngit.testing.fake_openai --port 8011

Each fake module ends with a call to `serve_from_command_line`: it prints the environment variables that
point kilngit at the server, then serves on 127.0.0.1 until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any


def serve_from_command_line(
    module: str,
    make: Callable[[int], Any],
    settings: Callable[[Any], Sequence[str]],
    argv: list[str] | None = None,
) -> int:
    """Parse `--port N` (0: any free port), start `make(port)` (a fake server usable as a context manager),
    print how to point kilngit at it, and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog=f"python -m kilngit.testing.{module}",
        description="Serve a fake of a provider's API on 127.0.0.1, for demos and tests (internal to kilngit).",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with make(args.port) as server:
        lines = "".join(f"  export {line}\n" for line in settings(server))
        print(
            f"{module} serving on 127.0.0.1:{server.port}; point kilngit at it with:\n{lines}Ctrl-C stops it.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a demo ends
            stop.wait()
    return 0
