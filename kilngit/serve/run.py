"""Starting the server: check the extra is installed, choose who signs in as whom, bind, print the link."""

from __future__ import annotations

import secrets
import socket
import sys
import webbrowser
from pathlib import Path
from typing import Any

from kilngit.errors import KilngitError, UsageError
from kilngit.identity import current_person
from kilngit.project import Project
from kilngit.serve.access import load_raters

DEFAULT_PORT = 8765


def require_extra() -> None:
    """Fail with the install command when the web libraries are missing."""
    try:
        import jinja2  # noqa: F401
        import multipart  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise KilngitError(
            f"kilngit serve needs the web libraries ({e.name} is missing)",
            "install them: pip install 'kilngit[serve]'",
        ) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {e.strerror}",
            "pick another port with --port N (0 picks a free one)",
        ) from None
    sock.listen(128)
    return sock


def sign_in_tokens(project: Project, raters_file: str | Path | None) -> dict[str, str]:
    """The raters file's tokens, or one fresh token for the local git identity."""
    if raters_file is not None:
        return load_raters(raters_file, project.root)
    return {secrets.token_urlsafe(24): current_person(project.root)}


def serve(
    root: str | Path = ".",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    raters_file: str | Path | None = None,
    out: Any = None,
) -> int:
    """Serve the project containing `root` until interrupted. Prints the sign-in link(s) to `out`."""
    require_extra()
    # the optional web libraries (kilngit[serve]), imported once require_extra() has checked them
    import uvicorn

    from kilngit.serve.app import create_app

    out = out or sys.stdout
    project = Project.find(root)
    tokens = sign_in_tokens(project, raters_file)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    app = create_app(project, tokens, host=host, port=bound)
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{bound}"
    if raters_file is None:
        ((token, person),) = tokens.items()
        link = f"{base}/signin?token={token}"
        print(f"kilngit serve: {project.root} at {base} (as {person})\n  open: {link}", file=out, flush=True)
    else:
        link = base
        print(
            f"kilngit serve: {project.root} at {base} ({len(set(tokens.values()))} raters)\n"
            f"  each rater opens {base}/signin?token=THEIR_TOKEN",
            file=out,
            flush=True,
        )
    if open_browser:
        webbrowser.open(link)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
