"""The web application: one Starlette app over one `Project`, with sign-in, CSRF checks and fresh reads.

    app = create_app(Project("."), tokens={"a-long-secret-token": "alice@example.com"})

Handlers are `async` functions that do their (synchronous, short) work inline: the server runs one request at
a time on its event loop, so the `Project` and its caches never see two threads.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kilngit.errors import KilngitError, NotFoundError
from kilngit.project import Project
from kilngit.serve import compare, labeling, pages
from kilngit.serve.access import Access, Session, csrf_ok
from kilngit.serve.fresh import Freshness
from kilngit.serve.text import css, render_text

STATIC = Path(__file__).with_name("static")
_RUN_ID = re.compile(r"[0-9a-f]{16}")
Handler = Callable[[Request], Awaitable[Response]]

#: Scripts only from this server, no inline script, no framing: a `<script>` that slipped into a page
#: could not run. Inline styles are allowed (the report's confusion matrices shade cells with them).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class Server:
    """What every handler shares."""

    def __init__(self, project: Project, access: Access, port: int = 0) -> None:
        self.project = project
        self.access = access
        self.fresh = Freshness(project)
        self.cookie = f"kilngit_session_{port}"
        self.env = Environment(
            loader=PackageLoader("kilngit.serve", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["text"] = render_text
        self.env.filters["consensus_of"] = lambda name, state: (name, state.requirement(name))
        self.env.globals["url"] = _url
        self.generation = 0
        """Bumped on every change seen on disk or made here; derived views keyed on it are recomputed."""
        self.disk_generation = 0
        """Bumped on changes seen on disk only (they may touch any run)."""
        self.on_write: list[Callable[[str | None, str], None]] = []
        """Called with (task, run) after this server changed a run's annotations."""
        self.queues: Any = None
        """The label queues (`kilngit.serve.labeling.Queues`)."""
        self._memo: dict[tuple[str, ...], tuple[tuple[Any, ...], Any]] = {}

    def memo(
        self, key: tuple[str, ...], compute: Callable[[], Any], deps: tuple[Any, ...] | None = None
    ) -> Any:
        """`compute()`, kept while `deps` are the same objects (default: until anything changes)."""
        deps = (self.generation,) if deps is None else deps
        hit = self._memo.get(key)
        if (
            hit is not None
            and len(hit[0]) == len(deps)
            and all(a is b or (isinstance(a, int) and a == b) for a, b in zip(hit[0], deps, strict=True))
        ):
            return hit[1]
        value = compute()
        if len(self._memo) > 64:  # many different filters looked at: start over rather than grow
            self._memo.clear()
        self._memo[key] = (deps, value)
        return value

    def changed(self, task: str | None = None, run: str | None = None) -> None:
        """Note a change: seen on disk (no arguments), or made by this server to one run."""
        self.generation += 1
        if run is None:
            self.disk_generation += 1
        for hook in self.on_write:
            if run is not None:
                hook(task, run)

    def session(self, request: Request) -> Session | None:
        return self.access.session(request.cookies.get(self.cookie))

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        session: Session | None = request.scope.get("kilngit.session")
        tasks = list(self.project.tasks())
        html = self.env.get_template(template).render(
            request=request,
            session=session,
            project=self.project,
            tasks=tasks,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def task(self, request: Request) -> str:
        """The task named in the URL; only names of existing tasks get through (no path comes from a request)."""
        return self.project.task_slug(request.path_params["task"])

    def run_id(self, request: Request, task: str, value: str | None = None) -> str:
        run_id = value if value is not None else request.path_params["run"]
        if not _RUN_ID.fullmatch(run_id) or run_id not in self.project.runs(task):
            raise NotFoundError(f"task {task!r} has no run {run_id!r}", "pick a run from the runs page")
        return run_id


def _url(path: str, **params: Any) -> str:
    """A URL with query parameters (None values left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""}, doseq=True)
    return f"{path}?{query}" if query else path


def page(
    server: Server, handler: Callable[[Server, Request], Awaitable[Response]], write: bool = False
) -> Handler:
    """Wrap a handler: signed-in sessions only, fresh reads, writes only with the CSRF token, errors as pages."""

    async def endpoint(request: Request) -> Response:
        session = server.session(request)
        if session is None:
            return server.render(request, "signin.html", status=401)
        request.scope["kilngit.session"] = session
        if write:
            form = await request.form()
            given = request.headers.get("x-csrf-token") or form.get("csrf")
            origin = request.headers.get("origin")
            if not csrf_ok(session, given if isinstance(given, str) else None) or (
                origin and origin != f"{request.url.scheme}://{request.url.netloc}"
            ):
                return server.render(
                    request,
                    "error.html",
                    status=403,
                    message="refused: missing or wrong CSRF token",
                    hint="reload the page and try again",
                )
        if server.fresh.check():
            server.changed()
        try:
            response = await handler(server, request)
        except KilngitError as e:
            status = 404 if isinstance(e, NotFoundError) else 400
            response = server.render(request, "error.html", status=status, message=e.message, hint=e.hint)
        return response

    return endpoint


async def sign_in(server: Server, request: Request) -> Response:
    """`/signin?token=...`: a valid token starts a session and goes to the page asked for."""
    token = request.query_params.get("token", "")
    sid = server.access.login(token) if token else None
    if sid is None:
        return server.render(request, "signin.html", status=401, failed=bool(token))
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(server.cookie, sid, httponly=True, samesite="strict", path="/")
    return response


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started, cpu = time.perf_counter(), time.thread_time()
    response = await call_next(request)
    # The time the server spent on the request, and the CPU time its thread used (on a busy machine the
    # second is the steadier figure). Browsers show both; bench/serve_pages.py reads them.
    response.headers["Server-Timing"] = (
        f"app;dur={(time.perf_counter() - started) * 1000:.1f}, "
        f"cpu;dur={(time.thread_time() - cpu) * 1000:.1f}"
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on plain form posts.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(project: Project, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0) -> Starlette:
    """The application. `tokens` maps each secret sign-in token to the rater it signs in as."""
    server = Server(project, Access(tokens), port)
    server.queues = labeling.Queues(server)
    routes: list[Route | Mount] = [
        Route("/signin", functools.partial(sign_in, server)),
        Route("/static/code.css", _css),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    for path, handler, methods in [*pages.ROUTES, *compare.ROUTES, *labeling.ROUTES]:
        routes.append(Route(path, page(server, handler, write="POST" in methods), methods=methods))
    # Host header check against DNS rebinding; a server bound to every interface answers any name (the
    # sign-in token still guards it).
    hosts = ["*"] if host in ("0.0.0.0", "::") else sorted({host, "127.0.0.1", "localhost", "::1", "[::1]"})
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
            Middleware(BaseHTTPMiddleware, dispatch=security_headers),
        ],
    )
    app.state.server = server
    return app


async def _css(request: Request) -> Response:
    return Response(css(), media_type="text/css")
