"""A loopback HTTP server speaking the OpenAI REST wire protocol, for tests and benchmarks.

Stdlib only. Serves ``/v1/chat/completions`` (plain and SSE streaming), ``/v1/models``,
``/v1/files``, ``/v1/batches`` (see `fake_openai_batch`) and ``/v1/fine_tuning/jobs/...``, with scriptable replies and faults::

    with FakeOpenAI(responder=lambda body: Reply("hi", finish_reason="length")) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
        srv.inject(Fault.rate_limit(retry_after=2), None, Fault.server_error(503))
        ...  # request 1 gets a 429, request 2 the reply, request 3 a 503
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from kilngit.testing.fake_openai_batch import BatchState
from kilngit.testing.fake_openai_finetune import ApiError, FineTuningState, JobScript

__all__ = ["FakeOpenAI", "Fault", "JobScript", "RecordedRequest", "Reply", "echo_responder"]


@dataclass
class Reply:
    """A scripted assistant answer for one chat completion.

    ``logprobs`` entries are ``{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}``;
    they are returned only when the request sets ``logprobs: true`` and, like the real API,
    each ``top_logprobs`` list is cut to the request's ``top_logprobs`` count. Without them,
    per-token logprobs are synthesized from ``content``. Token counts default to a
    whitespace-token estimate.
    """

    content: str | None = None
    finish_reason: str = "stop"
    """"stop", "length", "content_filter" (or "tool_calls")."""
    refusal: str | None = None
    reasoning_content: str | None = None
    """Sent as ``message.reasoning_content`` (the vLLM/DeepSeek convention; the SDK keeps extra fields)."""
    logprobs: list[dict[str, Any]] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    """Model name in the response; defaults to the request's ``model``."""


Responder = Callable[[dict[str, Any]], str | dict | Reply]

FAULT_KINDS = ("http_error", "slow", "drop", "drop_mid_body", "malformed_json", "empty_content")


@dataclass(frozen=True)
class Fault:
    """Something going wrong with one request. Build with the classmethods.

    ``delay`` seconds are slept before acting (on top of the server latency) for any kind.
    """

    kind: str
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0, message: str | None = None) -> Fault:
        """HTTP 429 with a ``Retry-After: <seconds>`` header (omitted if ``None``)."""
        return cls("http_error", status=429, retry_after=retry_after, message=message)

    @classmethod
    def server_error(cls, status: int = 500, message: str | None = None) -> Fault:
        """HTTP 500/502/503 (any status works) with an OpenAI-style JSON error body."""
        return cls("http_error", status=status, message=message)

    @classmethod
    def http_error(cls, status: int, message: str | None = None, retry_after: float | None = None) -> Fault:
        """Any HTTP error status, e.g. 400 or 401."""
        return cls("http_error", status=status, retry_after=retry_after, message=message)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Sleep ``seconds`` and then answer normally."""
        return cls("slow", delay=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("drop")

    @classmethod
    def drop_mid_body(cls) -> Fault:
        """Send the headers and half the body (or half the SSE events), then close."""
        return cls("drop_mid_body")

    @classmethod
    def malformed_json(cls) -> Fault:
        """A 200 ``application/json`` response whose body is truncated, invalid JSON."""
        return cls("malformed_json")

    @classmethod
    def empty_content(cls) -> Fault:
        """A well-formed completion whose message content is ``""``."""
        return cls("empty_content")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. ``body`` is parsed JSON (or a multipart summary)."""

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased names; ``authorization`` / ``api-key`` values are ``"<redacted>"``."""
    body: Any
    route: str
    fault: Fault | None
    at: float = field(default_factory=time.monotonic)


def _text(content: Any) -> str:
    """Text of a message ``content`` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _split(text: str | None) -> list[str]:
    """Whitespace "tokens" that concatenate back to ``text``."""
    return re.findall(r"\s*\S+|\s+", text or "")


def echo_responder(body: dict[str, Any]) -> str:
    """Default responder: ``"echo: <last user message text>"``."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    return f"echo: {_text(users[-1].get('content')) if users else ''}".rstrip()


def _logprobs(
    text: str | None, given: list[dict[str, Any]] | None, top_n: int
) -> list[dict[str, Any]] | None:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    if given is None:
        if text is None:
            return None
        given = [
            {
                "token": t,
                "logprob": -0.1,
                "top_logprobs": [{"token": t, "logprob": -0.1}]
                + [{"token": f"<alt{k}>", "logprob": -0.1 - 2 * k} for k in range(1, top_n)],
            }
            for t in _split(text)
        ]
    return [
        {
            **entry(g["token"], g["logprob"]),
            "top_logprobs": [entry(t["token"], t["logprob"]) for t in (g.get("top_logprobs") or [])[:top_n]],
        }
        for g in given
    ]


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    reasoning = len(_split(reply.reasoning_content))
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = max(1, sum(len(_split(_text(m.get("content")))) for m in body.get("messages") or []))
    completion = reply.completion_tokens
    if completion is None:
        completion = len(_split(reply.content)) + len(_split(reply.refusal)) + reasoning
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
            "audio_tokens": 0,
        },
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    }


def _completion(body: dict[str, Any], reply: Reply, cid: str) -> dict[str, Any]:
    top_n = int(body.get("top_logprobs") or 0)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": reply.refusal,
        "annotations": [],
    }
    if reply.reasoning_content is not None:
        message["reasoning_content"] = reply.reasoning_content
    logprobs = None
    if body.get("logprobs"):
        logprobs = {
            "content": _logprobs(reply.content, reply.logprobs, top_n),
            "refusal": _logprobs(reply.refusal, None, top_n) if reply.refusal is not None else None,
        }
    choices = [
        {"index": i, "message": message, "finish_reason": reply.finish_reason, "logprobs": logprobs}
        for i in range(int(body.get("n") or 1))
    ]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body.get("model"),
        "choices": choices,
        "usage": _usage(body, reply),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _stream_events(body: dict[str, Any], reply: Reply, cid: str) -> list[bytes]:
    """SSE ``data:`` events for a streamed completion, ending with ``[DONE]``."""
    base = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": reply.model or body.get("model"),
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        return {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": t}) for t in _split(reply.reasoning_content)]
    chunks += [chunk({"refusal": t}) for t in _split(reply.refusal)]
    if body.get("logprobs"):
        for lp in _logprobs(reply.content, reply.logprobs, int(body.get("top_logprobs") or 0)) or []:
            chunks.append(chunk({"content": lp["token"]}, logprobs={"content": [lp], "refusal": None}))
    else:
        chunks += [chunk({"content": t}) for t in _split(reply.content)]
    chunks.append(chunk({}, finish=reply.finish_reason))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage(body, reply)})
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``name -> (filename, bytes)`` of a multipart/form-data body, byte-exact."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ApiError(400, "Expected a multipart/form-data body with a boundary.")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in raw.split(b"--" + m.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, sep, data = part.partition(b"\r\n\r\n")
        name = re.search(r';\s*name="([^"]*)"', head.decode("utf-8", "replace"))
        if sep and name:
            filename = re.search(r';\s*filename="([^"]*)"', head.decode("utf-8", "replace"))
            fields[name.group(1)] = (filename.group(1) if filename else None, data.removesuffix(b"\r\n"))
    return fields


_ERROR_KINDS = {
    400: ("invalid_request_error", None, "Bad request (injected fault)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (injected fault)."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden (injected fault)."),
    404: ("invalid_request_error", "not_found", "Not found (injected fault)."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached (injected fault). Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request (injected fault)."),
    502: ("server_error", "bad_gateway", "Bad gateway (injected fault)."),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded (injected fault)."),
}

_ROUTES = [
    ("POST", "chat.completions", r"/v1/chat/completions"),
    ("GET", "models.list", r"/v1/models"),
    ("GET", "models.retrieve", r"/v1/models/(?P<model>[^/]+)"),
    ("POST", "files.create", r"/v1/files"),
    ("GET", "files.list", r"/v1/files"),
    ("GET", "files.retrieve", r"/v1/files/(?P<file_id>[^/]+)"),
    ("GET", "files.content", r"/v1/files/(?P<file_id>[^/]+)/content"),
    ("POST", "batches.create", r"/v1/batches"),
    ("GET", "batches.list", r"/v1/batches"),
    ("GET", "batches.retrieve", r"/v1/batches/(?P<batch_id>[^/]+)"),
    ("POST", "batches.cancel", r"/v1/batches/(?P<batch_id>[^/]+)/cancel"),
    ("POST", "fine_tuning.jobs.create", r"/v1/fine_tuning/jobs"),
    ("GET", "fine_tuning.jobs.list", r"/v1/fine_tuning/jobs"),
    ("GET", "fine_tuning.jobs.retrieve", r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)"),
    ("POST", "fine_tuning.jobs.cancel", r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/cancel"),
    ("GET", "fine_tuning.jobs.list_events", r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/events"),
    ("GET", "fine_tuning.jobs.checkpoints.list", r"/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/checkpoints"),
]
_COMPILED = [(method, name, re.compile(pattern + r"/?")) for method, name, pattern in _ROUTES]


@dataclass
class _Response:
    body: bytes = b""
    content_type: str = "application/json"
    status: int = 200
    events: list[bytes] | None = None  # set for SSE streams
    headers: dict[str, str] = field(default_factory=dict)


def _json(payload: Any, status: int = 200) -> _Response:
    return _Response(json.dumps(payload).encode(), status=status)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # server_close() must not join handler threads: idle keep-alive connections would block it.
    # FakeOpenAI.stop() shuts their sockets down instead.
    block_on_close = False
    request_queue_size = 1024
    fake: FakeOpenAI

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client hang-ups are expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = -1  # buffer headers + body into one send; handle_one_request() flushes per request
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ValueError):  # peer went away, or stop() closed the socket under us
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    do_POST = do_DELETE = do_GET

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def hang_up(self) -> None:
        self.wfile.flush()
        self.close_connection = True

    def send(self, resp: _Response, fault: Fault | None) -> None:
        cut = fault is not None and fault.kind == "drop_mid_body"
        self.send_response(resp.status)
        for key, value in resp.headers.items():
            self.send_header(key, value)
        wire = self.server.fake.wire
        if resp.events is None and wire == "identity":
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body[: len(resp.body) // 2] if cut else resp.body)
        elif resp.events is None:  # what CDNs in front of real APIs send: gzip, in chunks
            body = gzip.compress(resp.body)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
            for piece in pieces[: len(pieces) // 2] if cut else pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            if not cut:
                self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in resp.events[: len(resp.events) // 2] if cut else resp.events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            if not cut:
                self.wfile.write(b"0\r\n\r\n")
        if cut:
            self.hang_up()


class Hold:
    """Requests of one route held back: `arrived` is set by the first, all wait for `release()`; `handled` is
    set once the first has been answered (or its client was gone), so a test knows the call took effect."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.handled = threading.Event()
        self._released = threading.Event()

    def wait(self) -> None:
        self.arrived.set()
        self._released.wait()

    def release(self) -> None:
        self._released.set()


class FakeOpenAI:
    """An OpenAI-compatible HTTP server on 127.0.0.1 (ephemeral port), run in a daemon thread.

    Use as a context manager (or ``start()`` / ``stop()``); point clients at ``base_url``.

    - ``responder(body) -> str | Reply | dict`` answers chat completions: a ``str`` is the
      message content, a ``Reply`` sets every field, a ``dict`` is sent verbatim as the JSON body.
    - Faults hit requests whose path starts with one of ``fault_paths``: first the queued plan
      (``faults=`` / ``inject()``; a ``None`` entry lets that request through), then
      ``fault_fn(index, body)`` with ``index`` counting those requests from 0.
    - ``latency`` seconds are slept on every request (settable while running).
    - ``wire="gzip_chunked"`` sends JSON bodies gzip-compressed in small chunks instead of plain with a length.
    - ``batch_fail(body) -> str | None`` sends a batch line to the error file (see `BatchState`).
    - ``hold(route)`` stops requests of a route until released (a test kills its client meanwhile).
    - ``job_script`` is the default :class:`JobScript` for fine-tuning jobs (or a function of
      the create body returning one); ``script_next_job()`` queues per-job scripts.
    """

    multipart_routes: tuple[str, ...] = ("files.create",)
    """Routes whose body is multipart form data (file uploads); subclasses serving other APIs add theirs."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        models: Iterable[str] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"),
        faults: Iterable[Fault | None] = (),
        fault_fn: Callable[[int, Any], Fault | None] | None = None,
        fault_paths: Iterable[str] = ("/v1/chat/completions",),
        job_script: JobScript | Callable[[dict[str, Any]], JobScript] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        wire: Literal["identity", "gzip_chunked"] = "identity",
        batch_fail: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.responder: Responder = responder or echo_responder
        self.latency = latency
        self.wire = wire
        self.models = list(models)
        self.fault_fn = fault_fn
        self.fault_paths = tuple(fault_paths)
        self.fine_tuning = FineTuningState(job_script)
        self.batch = BatchState(self.fine_tuning, self._batch_answer, batch_fail)
        self._holds: dict[str, Hold] = {}
        self._address = (host, port)
        self._faults: deque[Fault | None] = deque(faults)
        self._fault_index = 0
        self._lock = threading.Lock()
        self._log: list[RecordedRequest] = []
        self._counts: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._in_flight = 0
        self.peak_in_flight = 0
        """Most requests ever handled at once (from body read to response written)."""
        self._conns: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind and start serving in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self._address, _Handler)
        self._server.fake = self
        # A short poll interval keeps shutdown() fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAI:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and join the server thread."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency / slow faults
        for hold in self._holds.values():
            hold.release()
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass as the SDK's ``base_url``."""
        return self.url + "/v1"

    # -- scripting and inspection ---------------------------------------------------------------

    def inject(self, *faults: Fault | None) -> None:
        """Queue faults for the next in-scope requests, in order (``None`` = no fault)."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def hold(self, route: str) -> Hold:
        """Make requests of `route` (e.g. ``batches.create``) wait, once received and counted, until
        ``release()``: what a client sees when the server is slow to answer."""
        hold = self._holds[route] = Hold()
        return hold

    def script_next_job(self, *scripts: JobScript) -> None:
        """Use these scripts for the next created fine-tuning jobs, in order."""
        self.fine_tuning.script_next(*scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received so far."""
        with self._lock:
            return list(self._log)

    @property
    def counts(self) -> Counter[str]:
        """Snapshot of counters: ``requests``, one per route name (e.g. ``chat.completions``,
        ``files.create``), ``faults`` and ``faults.<kind>``."""
        with self._lock:
            return Counter(self._counts)

    def reset_stats(self) -> None:
        """Clear the request log, counters and ``peak_in_flight`` (not faults or fine-tuning state)."""
        with self._lock:
            self._log.clear()
            self._counts.clear()
            self.peak_in_flight = self._in_flight

    # -- request handling (runs on handler threads) ---------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _pick_fault(self, path: str, body: Any) -> Fault | None:
        if not path.startswith(self.fault_paths):
            return None
        with self._lock:
            index, self._fault_index = self._fault_index, self._fault_index + 1
            if self._faults:
                return self._faults.popleft()
        return self.fault_fn(index, body) if self.fault_fn else None

    def _serve(self, h: _Handler) -> None:
        path, _, qs = h.path.partition("?")
        raw = h.read_body()
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        fault = None
        fields: dict[str, tuple[str | None, bytes]] = {}
        try:
            try:
                route, params = self._route(h.command, path)
                if route in self.multipart_routes:
                    fields = _parse_multipart(h.headers.get("Content-Type", ""), raw)
                    body: Any = {
                        k: {"filename": f, "bytes": len(d)} if f is not None else d.decode("utf-8", "replace")
                        for k, (f, d) in fields.items()
                    }
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        raise ApiError(400, "We could not parse the JSON body of your request.") from None
                fault = self._pick_fault(path, body)
                headers = {
                    k.lower(): "<redacted>" if k.lower() in ("authorization", "api-key") else v
                    for k, v in h.headers.items()
                }
                with self._lock:
                    self._log.append(
                        RecordedRequest(
                            len(self._log), h.command, path, dict(parse_qsl(qs)), headers, body, route, fault
                        )
                    )
                    self._counts.update(
                        ["requests", route] + (["faults", f"faults.{fault.kind}"] if fault else [])
                    )
                self._sleep(self.latency + (fault.delay if fault else 0.0))
                hold = self._holds.get(route)
                if hold is not None:
                    hold.wait()
                if fault is not None and fault.kind == "drop":
                    h.hang_up()
                    return
                if fault is not None and fault.kind == "http_error":
                    type_, code, message = _ERROR_KINDS.get(
                        fault.status, ("server_error", None, "Injected fault.")
                    )
                    retry = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                    raise ApiError(
                        fault.status, fault.message or message, code=code, type=type_, headers=retry
                    )
                try:
                    resp = self._handle(route, params, body, fields, dict(parse_qsl(qs)), fault)
                finally:
                    if hold is not None:
                        hold.handled.set()
            except ApiError as e:
                resp = _Response(json.dumps(e.payload()).encode(), status=e.status, headers=e.headers)
            except Exception as e:  # a bug here or in a test's fault_fn: answer 500 rather than hang up
                traceback.print_exc()
                err = ApiError(
                    500, f"FakeOpenAI internal error: {type(e).__name__}: {e}", type="server_error"
                )
                resp = _Response(json.dumps(err.payload()).encode(), status=500)
            if fault is not None and fault.kind == "malformed_json":
                if resp.events is not None:
                    resp.events = [b'data: {"id": "chatcmpl-broken", "choi\n\n', b"data: [DONE]\n\n"]
                else:
                    resp.body = resp.body[: max(1, len(resp.body) // 2)]
            resp.headers.setdefault("x-request-id", f"req_{next(self._ids):06d}")
            h.send(resp, fault)
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
        for route_method, name, pattern in _COMPILED:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
        raise ApiError(404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _handle(
        self,
        route: str,
        params: dict[str, str],
        body: Any,
        fields: Mapping[str, tuple[str | None, bytes]],
        query: dict[str, str],
        fault: Fault | None,
    ) -> _Response:
        ft = self.fine_tuning
        if route == "chat.completions":
            return self._chat(body, fault)
        if route == "models.list":
            return _json(
                {"object": "list", "data": [self._model(m) for m in self.models + ft.succeeded_models()]}
            )
        if route == "models.retrieve":
            if params["model"] not in self.models + ft.succeeded_models():
                raise ApiError(404, f"The model '{params['model']}' does not exist", code="model_not_found")
            return _json(self._model(params["model"]))
        if route == "files.create":
            return _json(ft.upload(fields))
        if route == "files.list":
            return _json(ft.list_files(query))
        if route == "files.retrieve":
            return _json(ft.get_file(params["file_id"]).to_json())
        if route == "files.content":
            return _Response(ft.get_file(params["file_id"]).data, content_type="application/octet-stream")
        if not isinstance(body, (dict, type(None))):
            raise ApiError(400, "Expected a JSON object body.")
        if route == "batches.create":
            return _json(self.batch.create(body or {}))
        if route == "batches.list":
            return _json(self.batch.list_batches(query))
        if route == "batches.retrieve":
            return _json(self.batch.get(params["batch_id"]))
        if route == "batches.cancel":
            return _json(self.batch.cancel(params["batch_id"]))
        if route == "fine_tuning.jobs.create":
            return _json(ft.create_job(body or {}))
        if route == "fine_tuning.jobs.list":
            return _json(ft.list_jobs(query))
        if route == "fine_tuning.jobs.retrieve":
            return _json(ft.retrieve_job(params["job_id"]))
        if route == "fine_tuning.jobs.cancel":
            return _json(ft.cancel_job(params["job_id"]))
        if route == "fine_tuning.jobs.list_events":
            return _json(ft.list_events(params["job_id"], query))
        return _json(ft.list_checkpoints(params["job_id"], query))

    def _batch_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """One batch line answered as the chat endpoint would (an ApiError for a bad body)."""
        return dict(json.loads(self._chat(body, None).body))

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        owner = "org-fake" if model_id.startswith("ft:") else "openai"
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": owner}

    def _chat(self, body: Any, fault: Fault | None) -> _Response:
        if not isinstance(body, dict) or not body.get("messages"):
            raise ApiError(
                400,
                "Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        if not body.get("model"):
            raise ApiError(
                400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
            )
        if fault is not None and fault.kind == "empty_content":
            reply: Any = Reply(content="")
        else:
            try:
                reply = self.responder(body)
            except Exception as e:  # surface test bugs as a 500 the client can see
                raise ApiError(
                    500, f"FakeOpenAI responder raised {type(e).__name__}: {e}", type="server_error"
                ) from e
        if isinstance(reply, dict):
            return _json(reply)
        if isinstance(reply, str):
            reply = Reply(content=reply)
        if not isinstance(reply, Reply):
            raise ApiError(
                500,
                f"FakeOpenAI responder returned {type(reply).__name__}, not str | dict | Reply",
                type="server_error",
            )
        cid = f"chatcmpl-fake{next(self._ids):06d}"
        if body.get("stream"):
            return _Response(events=_stream_events(body, reply, cid))
        return _json(_completion(body, reply, cid))


if __name__ == "__main__":
    from kilngit.testing.demo import serve_from_command_line

    raise SystemExit(
        serve_from_command_line(
            "fake_openai",
            lambda port: FakeOpenAI(port=port),
            lambda s: [f"OPENAI_BASE_URL={s.base_url}", "OPENAI_API_KEY=demo"],
        )
    )
