"""A loopback HTTP server speaking enough of the Tinker service's wire protocol for the real SDK.

Point the real ``tinker`` SDK at it (``tinker.ServiceClient(base_url=server.base_url,
api_key=FAKE_API_KEY)``) and it can drive a LoRA fine-tune end to end: create a training client,
``forward_backward`` / ``optim_step``, ``save_state`` / ``load_state`` /
``create_training_client_from_state[_with_optimizer]``, ``save_weights_for_sampler``,
``create_sampling_client`` and ``sample``, with the SDK's futures polled through
``/api/v1/retrieve_future``. A documented OpenAI-compatible route (``<base_url>/oai/api/v1``,
``/chat/completions`` and ``/completions``) samples the same checkpoints.

Nothing is learnt: the "model" is a step counter. Cross-entropy loss per weighted target token is
:func:`token_loss` of the sum of the learning rates of all optimizer steps taken so far, so it
falls deterministically with steps and learning rate. Sampling returns deterministic text, turned
into tokens by :class:`ByteTokenizer` (one token per UTF-8 byte), which is also what tests should
use to build ``Datum`` objects: nothing here downloads a tokenizer.

State lives in a :class:`FakeTinkerState` that outlives a server: stop (or :meth:`crash`) a
server and start another on the same state (and port) to test resume. ``crash`` also drops what
a real outage would lose (sessions, live models, futures); checkpoints survive.

Faults: :meth:`FakeTinkerServer.inject_fault` fails the Nth matching request with an HTTP status
(500 by default), drops the connection, or lets the submission succeed but fails its future.
Every request is recorded in :attr:`FakeTinkerServer.requests`.

The module imports only the standard library; ``numpy`` and ``tinker.proto`` (both present
wherever the tinker SDK is) are imported when a protobuf request or response is handled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kilngit.finetune.export import ByteTokenizer

__all__ = [
    "FAKE_API_KEY",
    "ByteTokenizer",
    "Checkpoint",
    "FakeTinkerServer",
    "FakeTinkerState",
    "Fault",
    "ModelState",
    "RecordedRequest",
    "SamplerInfo",
    "default_sampler",
    "token_loss",
]

FAKE_API_KEY = "tml-kilngit-fake-key"
"""An API key the SDK accepts (it insists on the ``tml-`` prefix); the fake accepts any key unless
the server was given ``api_key=``."""

_ID_NAMESPACE = uuid.UUID("6b696c6e-6769-7400-8000-74696e6b6572")
_PROTO = "application/x-protobuf"
_SUPPORTED_LOSS_FNS = ("cross_entropy",)


def token_loss(lr_sum: float) -> float:
    """The fake's cross-entropy loss per unit of token weight after optimizer steps whose learning
    rates sum to ``lr_sum``: ``2.0 * exp(-1000 * lr_sum) + 0.05``."""
    return 2.0 * math.exp(-1000.0 * lr_sum) + 0.05


_TOKENIZER = ByteTokenizer()


@dataclass
class SamplerInfo:
    """What a sampler function knows about the weights it samples from."""

    sampling_session_id: str
    base_model: str
    model_path: str | None
    step: int
    lr_sum: float


SamplerFn = Callable[[list[int], SamplerInfo, int, int], "list[int] | str"]
"""``(prompt_tokens, info, sample_index, seed) -> completion`` as tokens or text (text is
encoded with :class:`ByteTokenizer`); the server truncates it to ``max_tokens``."""


def default_sampler(prompt_tokens: list[int], info: SamplerInfo, sample_index: int, seed: int) -> str:
    """Deterministic text naming the weights and the prompt: the same inputs, the same text."""
    label = info.model_path.rsplit("/", 1)[-1] if info.model_path else info.base_model
    digest = sum((i + 1) * t for i, t in enumerate(prompt_tokens)) % 9973
    return f"fake completion from {label} at step {info.step} (prompt {digest}, sample {sample_index})"


@dataclass
class ModelState:
    """A live training model (a LoRA adapter in the real service)."""

    model_id: str
    session_id: str
    base_model: str
    lora_rank: int | None
    step: int = 0
    lr_sum: float = 0.0
    pending_weight: float = 0.0
    """Token weight accumulated by forward_backward since the last optim_step."""
    learning_rates: list[float] = field(default_factory=list)
    loaded_from: str | None = None
    optimizer_restored: bool = False
    seq_futures: dict[int, str] = field(default_factory=dict)
    """seq_id -> future request id, so a re-sent request is not applied twice."""


@dataclass
class Checkpoint:
    """A saved training state (``weights``) or sampler checkpoint (``sampler_weights``)."""

    path: str
    kind: str  # "training" | "sampler"
    model_id: str
    name: str
    base_model: str
    lora_rank: int | None
    step: int
    lr_sum: float
    learning_rates: list[float]
    user_metadata: dict[str, str] | None = None


@dataclass
class SamplingSession:
    sampling_session_id: str
    base_model: str
    model_path: str | None
    step: int
    lr_sum: float


@dataclass
class _Future:
    request_id: str
    kind: str
    json_result: dict[str, Any] | None = None
    proto_result: bytes | None = None
    error: dict[str, str] | None = None
    polls: int = 0
    model_id: str | None = None
    sample_sequence_ids: list[str] | None = None


class FakeTinkerState:
    """Everything the fake service knows, shareable between successive servers.

    Durable: ``checkpoints`` and the id counters. Volatile (lost by :meth:`crash`): ``sessions``,
    ``models``, ``sampling_sessions`` and futures.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.finished_sessions: dict[str, str] = {}
        self.models: dict[str, ModelState] = {}
        self.checkpoints: dict[str, Checkpoint] = {}
        self.sampling_sessions: dict[str, SamplingSession] = {}
        self.futures: dict[str, _Future] = {}
        self._session_counter = itertools.count(1)
        self._future_counter = itertools.count(1)

    # -- ids -----------------------------------------------------------------------------------
    def new_session_id(self) -> str:
        return str(uuid.uuid5(_ID_NAMESPACE, f"session-{next(self._session_counter)}"))

    def new_request_id(self) -> str:
        return f"fake-req-{next(self._future_counter):06d}"

    # -- helpers for tests ---------------------------------------------------------------------
    def crash(self) -> None:
        """Forget what a crashed service would: sessions, live models, sampling sessions, futures."""
        with self.lock:
            self.sessions.clear()
            self.finished_sessions.clear()
            self.models.clear()
            self.sampling_sessions.clear()
            self.futures.clear()

    def model(self, model_id: str) -> ModelState:
        with self.lock:
            return self.models[model_id]

    def checkpoint(self, path: str) -> Checkpoint:
        with self.lock:
            return self.checkpoints[path]


@dataclass
class Fault:
    """Fail the ``nth`` (1-based) request whose path matches, counted from injection.

    ``path`` matches when the request path equals it or ends with it (``"forward_backward"``
    matches ``/api/v1/forward_backward``); ``None`` matches every request. ``times`` consecutive
    matches fail. ``mode``: ``"http"`` answers ``status`` with a JSON ``{"detail": message}``
    body, without handling the request; ``"drop"`` closes the connection without handling or
    answering; ``"drop_response"`` handles the request, then closes the connection without
    answering (a lost response: the SDK re-sends, and the fake answers a re-sent training
    request with its first future rather than applying it twice); ``"future"`` accepts the
    submission without applying it and makes its future resolve to
    ``{"error": message, "category": category}`` (the SDK raises ``RequestFailedError``).
    """

    path: str | None = None
    nth: int = 1
    status: int = 500
    times: int = 1
    mode: str = "http"
    message: str = "injected fault"
    category: str = "server"
    retry_after_ms: int | None = 1
    """Sent as ``retry-after-ms`` on 429/5xx answers so the SDK's HTTP layer retries at once."""
    seen: int = 0
    fired: int = 0

    def matches(self, path: str) -> bool:
        if self.path is None:
            return True
        return path == self.path or path.endswith(self.path if self.path.startswith("/") else "/" + self.path)


@dataclass
class RecordedRequest:
    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int | None = None
    fault: Fault | None = None


class _HttpError(Exception):
    """Answer with this status and ``{"detail": ...}`` (or an OpenAI-style error body)."""

    def __init__(
        self, status: int, detail: str, *, openai: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.openai = openai
        self.headers = dict(headers or {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeTinkerServer) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections cut by stop()/crash() are expected


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")


class FakeTinkerServer:
    """The loopback server. Use as a context manager, or call :meth:`start` / :meth:`stop`.

    Args:
        state: state to serve (shared with an earlier server to simulate a restart).
        port: 0 for an ephemeral port; pass an earlier server's ``port`` to come back on it.
        api_key: if set, requests must carry exactly this key.
        try_again_polls: answer ``try_again`` to this many polls of each future before its result.
        sampler: completion function, see :data:`SamplerFn`; defaults to :func:`default_sampler`.
        supported_models: base models accepted by create_model / sampling (None: any).
    """

    def __init__(
        self,
        state: FakeTinkerState | None = None,
        *,
        port: int = 0,
        api_key: str | None = None,
        try_again_polls: int = 0,
        sampler: SamplerFn | None = None,
        supported_models: list[str] | None = None,
    ) -> None:
        self.state = state if state is not None else FakeTinkerState()
        self.api_key = api_key
        self.try_again_polls = try_again_polls
        self.sampler: SamplerFn = sampler or default_sampler
        self.supported_models = supported_models
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        """Tracebacks of requests the fake failed to handle (answered 422)."""
        self._requested_port = port
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeTinkerServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server(("127.0.0.1", self._requested_port), _Handler, self)
        self._requested_port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"fake-tinker-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection (the SDK sees connection errors)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with httpd.sockets_lock:
            sockets = list(httpd.open_sockets)
            httpd.open_sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def crash(self) -> None:
        """Stop like a crashed service: also forget sessions, live models and futures."""
        self.stop()
        self.state.crash()

    def restart(self, *, crash: bool = False) -> FakeTinkerServer:
        """A new started server on the same state and port (after crashing this one if asked)."""
        if crash:
            self.crash()
        else:
            self.stop()
        return FakeTinkerServer(
            self.state,
            port=self.port,
            api_key=self.api_key,
            try_again_polls=self.try_again_polls,
            sampler=self.sampler,
            supported_models=self.supported_models,
        ).start()

    def __enter__(self) -> FakeTinkerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._requested_port

    @property
    def base_url(self) -> str:
        """What to pass as ``ServiceClient(base_url=...)`` or ``TINKER_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL of the OpenAI-compatible API (``<base_url>/oai/api/v1``)."""
        return f"{self.base_url}/oai/api/v1"

    # -- faults and records --------------------------------------------------------------------
    def inject_fault(
        self,
        path: str | None = None,
        *,
        nth: int = 1,
        status: int = 500,
        times: int = 1,
        mode: str = "http",
        message: str = "injected fault",
        category: str = "server",
        retry_after_ms: int | None = 1,
    ) -> Fault:
        """Fail the ``nth`` next request matching ``path``; see :class:`Fault`."""
        if mode not in ("http", "drop", "drop_response", "future"):
            raise ValueError(f"unknown fault mode {mode!r}")
        fault = Fault(path, nth, status, times, mode, message, category, retry_after_ms)
        with self._lock:
            self.faults.append(fault)
        return fault

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path equals or ends with ``path``."""
        probe = Fault(path=path)
        with self._lock:
            return [r for r in self.requests if probe.matches(r.path)]

    def _pick_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fired >= fault.times or not fault.matches(path):
                    continue
                fault.seen += 1
                if fault.seen >= fault.nth:
                    fault.fired += 1
                    return fault
        return None

    # -- HTTP plumbing -------------------------------------------------------------------------
    def _handle(self, h: _Handler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        record = RecordedRequest(0, method, path, headers, None)
        with self._lock:
            record.index = len(self.requests)
            self.requests.append(record)
        is_oai = path.startswith("/oai/")
        try:
            raw = self._decode_body(raw, headers)
            record.body = self._parse_body(path, raw, headers)
            fault = self._pick_fault(path)
            record.fault = fault
            if fault is not None and fault.mode == "drop":
                record.status = 0
                self._drop(h)
                return
            if fault is not None and fault.mode == "http":
                extra = {}
                if fault.retry_after_ms is not None and (fault.status == 429 or fault.status >= 500):
                    extra["retry-after-ms"] = str(fault.retry_after_ms)
                raise _HttpError(fault.status, fault.message, openai=is_oai, headers=extra)
            self._check_auth(headers, is_oai)
            status, ctype, payload, extra_headers = self._route(method, path, record.body, headers, fault)
            if fault is not None and fault.mode == "drop_response":
                record.status = 0
                self._drop(h)
                return
        except _HttpError as e:
            status, ctype = e.status, "application/json"
            if e.openai:
                payload = json.dumps(
                    {
                        "error": {
                            "message": e.detail,
                            "type": "invalid_request_error",
                            "param": None,
                            "code": None,
                        }
                    }
                ).encode()
            else:
                payload = json.dumps({"detail": e.detail}).encode()
            extra_headers = e.headers
        except Exception as e:
            # A bug in the fake, or a request it cannot read. 422 is not retried by the SDK, so the
            # caller sees UnprocessableEntityError at once instead of minutes of 5xx retries.
            with self._lock:
                self.errors.append(traceback.format_exc())
            status, ctype, extra_headers = 422, "application/json", {}
            payload = json.dumps({"detail": f"fake tinker error: {type(e).__name__}: {e}"}).encode()
            record.body = record.body if record.body is not None else repr(raw[:200])
        record.status = status
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        for k, v in extra_headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(payload)
        h.wfile.flush()

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _decode_body(raw: bytes, headers: dict[str, str]) -> bytes:
        if raw and headers.get("content-encoding", "").lower() == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        return raw

    @staticmethod
    def _parse_body(path: str, raw: bytes, headers: dict[str, str]) -> Any:
        if not raw:
            return None
        if _PROTO in headers.get("content-type", "") and path.endswith("/forward_backward"):
            return _decode_forward_backward(raw)
        try:
            return json.loads(raw)
        except ValueError as e:
            raise _HttpError(400, f"request body is not JSON: {e}") from e

    def _check_auth(self, headers: dict[str, str], is_oai: bool) -> None:
        if is_oai:
            auth = headers.get("authorization", "")
            key = auth[7:] if auth.lower().startswith("bearer ") else headers.get("x-api-key", "")
        else:
            key = headers.get("x-api-key", "")
        if not key or (self.api_key is not None and key != self.api_key):
            raise _HttpError(401, "invalid or missing API key", openai=is_oai)

    def _route(
        self, method: str, path: str, body: Any, headers: dict[str, str], fault: Fault | None
    ) -> tuple[int, str, bytes, dict[str, str]]:
        body = body if body is not None else {}
        if path.startswith("/oai/api/v1/"):
            sub = path[len("/oai/api/v1") :]
            if method == "POST" and sub == "/chat/completions":
                return _json(self._oai_chat(body))
            if method == "POST" and sub == "/completions":
                return _json(self._oai_completions(body))
            if method == "GET" and sub == "/models":
                return _json(self._oai_models())
            raise _HttpError(404, f"no route {method} {path}", openai=True)
        if not path.startswith("/api/v1/"):
            raise _HttpError(404, f"no route {method} {path}")
        name = path[len("/api/v1/") :]
        simple: dict[tuple[str, str], Callable[[Any], dict[str, Any]]] = {
            ("POST", "client/config"): self._client_config,
            ("POST", "client/dynamic_config"): lambda b: {"refresh_interval_sec": 300},
            ("POST", "create_session"): self._create_session,
            ("POST", "session_heartbeat"): self._session_heartbeat,
            ("POST", "telemetry"): lambda b: {"status": "accepted"},
            ("GET", "healthz"): lambda b: {"status": "ok"},
            ("GET", "get_server_capabilities"): self._capabilities,
            ("POST", "get_info"): self._get_info,
            ("POST", "create_sampling_session"): self._create_sampling_session,
            ("POST", "cancel_future"): lambda b: {},
        }
        if (method, name) in simple:
            return _json(simple[(method, name)](body))
        submit: dict[str, Callable[[Any, Fault | None], dict[str, Any]]] = {
            "create_model": self._create_model,
            "forward_backward": self._forward_backward,
            "optim_step": self._optim_step,
            "save_weights": self._save_weights,
            "load_weights": self._load_weights,
            "save_weights_for_sampler": self._save_weights_for_sampler,
            "asample": self._asample,
        }
        if method == "POST" and name in submit:
            return _json(submit[name](body, fault))
        if method == "POST" and name == "retrieve_future":
            return self._retrieve_future(body, headers)
        m = re.fullmatch(r"sessions/([^/]+)/finish", name)
        if method == "POST" and m:
            return _json(self._finish_session(m.group(1), body))
        m = re.fullmatch(r"samplers/([^/]+)", name)
        if method == "GET" and m:
            return _json(self._get_sampler(m.group(1)))
        m = re.fullmatch(r"training_runs/(.+)/checkpoints", name)
        if method == "GET" and m:
            return _json(self._list_checkpoints(m.group(1)))
        raise _HttpError(404, f"the fake Tinker server has no route {method} {path}")

    # -- futures -------------------------------------------------------------------------------
    def _new_future(
        self,
        kind: str,
        *,
        model_id: str | None = None,
        fault: Fault | None = None,
        compute: Callable[[], dict[str, Any] | bytes],
        sample_count: int | None = None,
    ) -> _Future:
        st = self.state
        with st.lock:
            fut = _Future(st.new_request_id(), kind, model_id=model_id)
            if sample_count is not None:
                fut.sample_sequence_ids = [f"{fut.request_id}:seq:{i}" for i in range(sample_count)]
            if fault is not None and fault.mode == "future":
                fut.error = {"error": fault.message, "category": fault.category}
            else:
                try:
                    result = compute()
                except _RequestFailed as e:
                    fut.error = {"error": str(e), "category": e.category}
                else:
                    if isinstance(result, bytes):
                        fut.proto_result = result
                    else:
                        fut.json_result = result
            st.futures[fut.request_id] = fut
            return fut

    @staticmethod
    def _future_json(fut: _Future) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": fut.request_id}
        if fut.model_id is not None:
            out["model_id"] = fut.model_id
        if fut.sample_sequence_ids is not None:
            out["sample_sequence_ids"] = fut.sample_sequence_ids
        return out

    def _retrieve_future(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, bytes, dict[str, str]]:
        request_id = str(body.get("request_id"))
        with self.state.lock:
            fut = self.state.futures.get(request_id)
            if fut is None:
                raise _HttpError(404, f"unknown future {request_id!r}")
            fut.polls += 1
            if fut.polls <= self.try_again_polls:
                return _json({"type": "try_again", "request_id": fut.request_id, "queue_state": "active"})
            if fut.error is not None:
                return _json(dict(fut.error))
            if fut.proto_result is not None:
                return 200, _PROTO, fut.proto_result, {}
            return _json(dict(fut.json_result or {}))

    def _sequenced(
        self, model: ModelState, body: dict[str, Any], make: Callable[[], _Future]
    ) -> dict[str, Any]:
        """Apply a model request once per seq_id: a re-sent request gets the first future back."""
        seq_id = body.get("seq_id")
        with self.state.lock:
            if seq_id is not None and seq_id in model.seq_futures:
                existing = self.state.futures.get(model.seq_futures[seq_id])
                if existing is not None:
                    return self._future_json(existing)
            fut = make()
            if seq_id is not None and fut.error is None:
                model.seq_futures[seq_id] = fut.request_id
            return self._future_json(fut)

    # -- service endpoints ---------------------------------------------------------------------
    def _client_config(self, body: Any) -> dict[str, Any]:
        return {
            "pjwt_auth_enabled": False,
            "credential_default_source": "api_key",
            "use_pyqwest_transport": False,
            "proto_compress_fwdbwd": False,
            "parallel_fwdbwd_chunks": True,
            "sample_use_retrieve_futures": False,
            "custom_loss_server_side": False,
            "sample_join_sampling_session": False,
        }

    def _capabilities(self, body: Any) -> dict[str, Any]:
        names = self.supported_models or [
            "Qwen/Qwen3-8B",
            "Qwen/Qwen3-4B-Instruct-2507",
            "meta-llama/Llama-3.2-1B",
        ]
        return {
            "supported_models": [
                {"model_name": n, "max_context_length": 32768, "trainable": True, "sampleable": True}
                for n in names
            ]
        }

    def _check_base_model(self, base_model: str | None) -> str:
        if not base_model:
            raise _HttpError(400, "base_model is required")
        if self.supported_models is not None and base_model not in self.supported_models:
            raise _HttpError(400, f"base model {base_model!r} is not supported")
        return base_model

    def _create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            session_id = self.state.new_session_id()
            self.state.sessions[session_id] = {
                "tags": body.get("tags", []),
                "user_metadata": body.get("user_metadata", {}),
                "project_id": body.get("project_id"),
                "display_name": body.get("display_name"),
                "heartbeats": 0,
            }
        return {"type": "create_session", "session_id": session_id}

    def _session(self, session_id: str | None) -> dict[str, Any]:
        with self.state.lock:
            if session_id in self.state.sessions:
                return self.state.sessions[session_id]
        raise _HttpError(404, f"unknown session {session_id!r}")

    def _session_heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id = str(body.get("session_id"))
        with self.state.lock:
            if session_id not in self.state.sessions or session_id in self.state.finished_sessions:
                # 410 makes the SDK stop heartbeating a session this (restarted) service lost.
                raise _HttpError(410, f"session {session_id!r} is gone")
            self.state.sessions[session_id]["heartbeats"] += 1
        return {"type": "session_heartbeat"}

    def _finish_session(self, session_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self._session(session_id)
        with self.state.lock:
            reason = (body.get("reason") or {}).get("type", "success")
            self.state.finished_sessions.setdefault(session_id, reason)
        return {}

    def _model(self, model_id: str | None) -> ModelState:
        with self.state.lock:
            model = self.state.models.get(model_id or "")
        if model is None:
            raise _HttpError(404, f"unknown model {model_id!r}")
        return model

    def _get_info(self, body: dict[str, Any]) -> dict[str, Any]:
        model = self._model(body.get("model_id"))
        return {
            "type": "get_info",
            "model_id": model.model_id,
            "model_data": {"arch": "fake", "model_name": model.base_model, "tokenizer_id": model.base_model},
            "is_lora": True,
            "lora_rank": model.lora_rank,
            "model_name": model.base_model,
        }

    def _create_model(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        session_id = str(body.get("session_id"))
        self._session(session_id)
        base_model = self._check_base_model(body.get("base_model"))
        model_id = f"{session_id}:train:{body.get('model_seq_id', 0)}"
        lora = body.get("lora_config") or {}

        def compute() -> dict[str, Any]:
            if model_id not in self.state.models:
                self.state.models[model_id] = ModelState(model_id, session_id, base_model, lora.get("rank"))
            return {"type": "create_model", "model_id": model_id}

        return self._future_json(
            self._new_future("create_model", model_id=model_id, fault=fault, compute=compute)
        )

    def _forward_backward(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        model = self._model(body.get("model_id"))

        def compute() -> bytes:
            loss_fn = body.get("loss_fn")
            if loss_fn not in _SUPPORTED_LOSS_FNS:
                raise _RequestFailed(
                    f"the fake Tinker server only supports {_SUPPORTED_LOSS_FNS}, not {loss_fn!r}"
                )
            per_token = token_loss(model.lr_sum)
            outputs: list[dict[str, Any]] = []
            total_loss = 0.0
            total_weight = 0.0
            for i, datum in enumerate(body.get("data", [])):
                inputs = datum["loss_fn_inputs"]
                if "target_tokens" not in inputs:
                    raise _RequestFailed(f"datum {i}: cross_entropy needs loss_fn_inputs['target_tokens']")
                targets = inputs["target_tokens"]
                weights = inputs.get("weights")
                if weights is None:
                    weights = {"values": [1.0] * len(targets["values"]), "shape": targets["shape"]}
                if len(weights["values"]) != len(targets["values"]):
                    raise _RequestFailed(f"datum {i}: weights and target_tokens differ in size")
                elementwise = [per_token * float(w) for w in weights["values"]]
                total_loss += sum(elementwise)
                total_weight += sum(float(w) for w in weights["values"])
                outputs.append(
                    {
                        "logprobs": ([-per_token] * len(targets["values"]), targets["shape"]),
                        "elementwise_loss": (elementwise, targets["shape"]),
                    }
                )
            if not body.get("forward_only"):
                model.pending_weight += total_weight
            return _encode_forward_backward_output(outputs, {"loss:sum": total_loss})

        return self._sequenced(
            model,
            body,
            lambda: self._new_future(
                "forward_backward", model_id=model.model_id, fault=fault, compute=compute
            ),
        )

    def _optim_step(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        model = self._model(body.get("model_id"))
        params = body.get("adam_params") or body.get("optim_params") or body.get("optimizer_params") or {}

        def compute() -> dict[str, Any]:
            lr = float(params.get("learning_rate", 1e-4))
            model.step += 1
            model.lr_sum += lr
            model.learning_rates.append(lr)
            model.pending_weight = 0.0
            return {"metrics": {}}

        return self._sequenced(
            model,
            body,
            lambda: self._new_future("optim_step", model_id=model.model_id, fault=fault, compute=compute),
        )

    def _snapshot(self, model: ModelState, kind: str, name: str, metadata: Any) -> Checkpoint:
        segment = "weights" if kind == "training" else "sampler_weights"
        return Checkpoint(
            path=f"tinker://{model.model_id}/{segment}/{name}",
            kind=kind,
            model_id=model.model_id,
            name=name,
            base_model=model.base_model,
            lora_rank=model.lora_rank,
            step=model.step,
            lr_sum=model.lr_sum,
            learning_rates=list(model.learning_rates),
            user_metadata=metadata,
        )

    def _save_weights(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        model = self._model(body.get("model_id"))

        def compute() -> dict[str, Any]:
            name = body.get("path") or f"{model.step:06d}"
            ckpt = self._snapshot(model, "training", name, body.get("user_metadata"))
            if ckpt.path in self.state.checkpoints and not body.get("overwrite"):
                raise _RequestFailed(f"checkpoint {ckpt.path} already exists", category="user")
            self.state.checkpoints[ckpt.path] = ckpt
            return {"type": "save_weights", "path": ckpt.path}

        return self._sequenced(
            model,
            body,
            lambda: self._new_future("save_weights", model_id=model.model_id, fault=fault, compute=compute),
        )

    def _find_checkpoint(self, path: str | None, kind: str | None = None) -> Checkpoint:
        with self.state.lock:
            ckpt = self.state.checkpoints.get(path or "")
        if ckpt is None or (kind is not None and ckpt.kind != kind):
            raise _RequestFailed(
                f"no {kind or ''} checkpoint at {path!r}".replace("  ", " "), category="user"
            )
        return ckpt

    def _load_weights(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        path = body.get("path")
        optimizer = bool(body.get("optimizer"))

        def restore(model: ModelState, ckpt: Checkpoint) -> dict[str, Any]:
            model.step = ckpt.step
            model.lr_sum = ckpt.lr_sum
            model.learning_rates = list(ckpt.learning_rates)
            model.pending_weight = 0.0
            model.loaded_from = ckpt.path
            model.optimizer_restored = optimizer
            return {"type": "load_weights", "path": ckpt.path, "model_id": model.model_id}

        if body.get("model_id") is not None:  # TrainingClient.load_state*: onto an existing model
            model = self._model(body.get("model_id"))
            return self._sequenced(
                model,
                body,
                lambda: self._new_future(
                    "load_weights",
                    model_id=model.model_id,
                    fault=fault,
                    compute=lambda: restore(model, self._find_checkpoint(path, "training")),
                ),
            )

        # ServiceClient.create_training_client_from_state*: a new model, id from (session, seq).
        session_id = str(body.get("session_id"))
        self._session(session_id)
        model_id = f"{session_id}:train:{body.get('model_seq_id', 0)}"

        def create() -> dict[str, Any]:
            ckpt = self._find_checkpoint(path, "training")
            model = self.state.models.get(model_id)
            if model is None:
                base = body.get("base_model") or ckpt.base_model
                model = ModelState(model_id, session_id, base, ckpt.lora_rank)
                self.state.models[model_id] = model
            return restore(model, ckpt)

        return self._future_json(
            self._new_future("load_weights", model_id=model_id, fault=fault, compute=create)
        )

    def _save_weights_for_sampler(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        model = self._model(body.get("model_id"))

        def compute() -> dict[str, Any]:
            name = body.get("path")
            if name is None:  # save_weights_and_get_sampling_client: an unnamed sampling session
                sid = f"{model.session_id}:sample:{body.get('sampling_session_seq_id', 0)}"
                self.state.sampling_sessions[sid] = SamplingSession(
                    sid, model.base_model, None, model.step, model.lr_sum
                )
                return {"type": "save_weights_for_sampler", "sampling_session_id": sid}
            ckpt = self._snapshot(model, "sampler", name, body.get("user_metadata"))
            self.state.checkpoints[ckpt.path] = ckpt
            return {"type": "save_weights_for_sampler", "path": ckpt.path}

        return self._sequenced(
            model,
            body,
            lambda: self._new_future(
                "save_weights_for_sampler", model_id=model.model_id, fault=fault, compute=compute
            ),
        )

    def _list_checkpoints(self, model_id: str) -> dict[str, Any]:
        with self.state.lock:
            ckpts = [c for c in self.state.checkpoints.values() if c.model_id == model_id]
        segment = {"training": "weights", "sampler": "sampler_weights"}
        return {
            "checkpoints": [
                {
                    "checkpoint_id": f"{segment[c.kind]}/{c.name}",
                    "checkpoint_type": c.kind,
                    "time": "2025-01-01T00:00:00Z",
                    "tinker_path": c.path,
                    "size_bytes": 1024,
                    "user_metadata": c.user_metadata,
                }
                for c in ckpts
            ]
        }

    # -- sampling ------------------------------------------------------------------------------
    def _resolve_sampler_source(self, model_path: str | None, base_model: str | None) -> SamplingSession:
        if model_path:
            with self.state.lock:
                ckpt = self.state.checkpoints.get(model_path)
            if ckpt is None:
                raise _HttpError(404, f"no checkpoint at {model_path!r}")
            return SamplingSession("", base_model or ckpt.base_model, model_path, ckpt.step, ckpt.lr_sum)
        return SamplingSession("", self._check_base_model(base_model), None, 0, 0.0)

    def _create_sampling_session(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id = str(body.get("session_id"))
        self._session(session_id)
        src = self._resolve_sampler_source(body.get("model_path"), body.get("base_model"))
        src.sampling_session_id = f"{session_id}:sample:{body.get('sampling_session_seq_id', 0)}"
        with self.state.lock:
            self.state.sampling_sessions[src.sampling_session_id] = src
        return {"type": "create_sampling_session", "sampling_session_id": src.sampling_session_id}

    def _get_sampler(self, sampler_id: str) -> dict[str, Any]:
        with self.state.lock:
            ss = self.state.sampling_sessions.get(sampler_id)
        if ss is None:
            raise _HttpError(404, f"unknown sampler {sampler_id!r}")
        return {
            "sampler_id": ss.sampling_session_id,
            "base_model": ss.base_model,
            "model_path": ss.model_path,
        }

    def _complete(
        self, src: SamplingSession, prompt: list[int], max_tokens: int | None, index: int, seed: int
    ) -> tuple[list[int], bool]:
        info = SamplerInfo(src.sampling_session_id, src.base_model, src.model_path, src.step, src.lr_sum)
        out = self.sampler(list(prompt), info, index, seed)
        tokens = _TOKENIZER.encode(out) if isinstance(out, str) else [int(t) for t in out]
        if max_tokens is not None and len(tokens) > max_tokens:
            return tokens[:max_tokens], True
        return tokens, False

    def _asample(self, body: dict[str, Any], fault: Fault | None) -> dict[str, Any]:
        sid = body.get("sampling_session_id")
        if sid is not None:
            with self.state.lock:
                src = self.state.sampling_sessions.get(sid)
            if src is None:
                raise _HttpError(404, f"unknown sampling session {sid!r}")
        else:
            src = self._resolve_sampler_source(body.get("model_path"), body.get("base_model"))
        prompt = _prompt_tokens(body.get("prompt") or {})
        params = body.get("sampling_params") or {}
        n = int(body.get("num_samples", 1))

        def compute() -> bytes:
            seqs = [
                self._complete(src, prompt, params.get("max_tokens"), i, int(params.get("seed") or 0))
                for i in range(n)
            ]
            return _encode_sample_response(seqs, len(prompt), bool(body.get("prompt_logprobs")))

        return self._future_json(self._new_future("sample", fault=fault, compute=compute, sample_count=n))

    # -- OpenAI-compatible ---------------------------------------------------------------------
    def _oai_source(self, model: Any) -> SamplingSession:
        if not isinstance(model, str) or not model:
            raise _HttpError(400, "model is required", openai=True)
        base, _, path = model.partition(";") if ";" in model else ("", "", model)
        if path.startswith("tinker://"):
            with self.state.lock:
                ckpt = self.state.checkpoints.get(path)
            if ckpt is None or ckpt.kind != "sampler":
                raise _HttpError(
                    404, f"The model `{model}` does not exist (needs a sampler checkpoint path)", openai=True
                )
            return SamplingSession(f"oai:{path}", base or ckpt.base_model, path, ckpt.step, ckpt.lr_sum)
        if self.supported_models is not None and path not in self.supported_models:
            raise _HttpError(404, f"The model `{model}` does not exist", openai=True)
        return SamplingSession(f"oai:{path}", path, None, 0, 0.0)

    def _oai_run(
        self, body: dict[str, Any], prompt_text: str
    ) -> tuple[list[tuple[str, str]], dict[str, int]]:
        """Sample for an OpenAI-style request: ``([(text, finish_reason)], usage)``."""
        if body.get("stream"):
            raise _HttpError(400, "the fake Tinker server does not stream", openai=True)
        src = self._oai_source(body.get("model"))
        prompt = _TOKENIZER.encode(prompt_text)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        seed = int(body.get("seed") or 0)
        results: list[tuple[str, str]] = []
        completion_tokens = 0
        for i in range(int(body.get("n") or 1)):
            tokens, truncated = self._complete(src, prompt, max_tokens, i, seed)
            results.append((_TOKENIZER.decode(tokens), "length" if truncated else "stop"))
            completion_tokens += len(tokens)
        usage = {
            "prompt_tokens": len(prompt),
            "completion_tokens": completion_tokens,
            "total_tokens": len(prompt) + completion_tokens,
        }
        return results, usage

    def _oai_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HttpError(400, "messages must be a non-empty list", openai=True)
        rendered = (
            "".join(f"{m.get('role', 'user')}: {_message_text(m.get('content'))}\n" for m in messages)
            + "assistant:"
        )
        results, usage = self._oai_run(body, rendered)
        with self.state.lock:
            rid = self.state.new_request_id()
        return {
            "id": f"chatcmpl-{rid}",
            "object": "chat.completion",
            "created": 1735689600,
            "model": body["model"],
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                    "logprobs": None,
                }
                for i, (text, reason) in enumerate(results)
            ],
            "usage": usage,
        }

    def _oai_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        if isinstance(prompt, list):
            prompt = "".join(str(p) for p in prompt)
        if not isinstance(prompt, str):
            raise _HttpError(400, "prompt must be a string", openai=True)
        results, usage = self._oai_run(body, prompt)
        with self.state.lock:
            rid = self.state.new_request_id()
        return {
            "id": f"cmpl-{rid}",
            "object": "text_completion",
            "created": 1735689600,
            "model": body["model"],
            "choices": [
                {"index": i, "text": text, "finish_reason": reason, "logprobs": None}
                for i, (text, reason) in enumerate(results)
            ],
            "usage": usage,
        }

    def _oai_models(self) -> dict[str, Any]:
        with self.state.lock:
            paths = [c.path for c in self.state.checkpoints.values() if c.kind == "sampler"]
        names = (self.supported_models or []) + paths
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": 0, "owned_by": "tinker"} for n in names],
        }


class _RequestFailed(Exception):
    """Makes a future resolve to ``{"error": ..., "category": ...}``."""

    def __init__(self, message: str, category: str = "user") -> None:
        super().__init__(message)
        self.category = category


def _json(payload: dict[str, Any]) -> tuple[int, str, bytes, dict[str, str]]:
    return 200, "application/json", json.dumps(payload).encode(), {}


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _prompt_tokens(model_input: dict[str, Any]) -> list[int]:
    tokens: list[int] = []
    for chunk in model_input.get("chunks", []):
        if chunk.get("type", "encoded_text") != "encoded_text":
            raise _HttpError(
                400, f"the fake Tinker server only takes encoded_text chunks, not {chunk.get('type')!r}"
            )
        tokens.extend(int(t) for t in chunk.get("tokens", []))
    return tokens


# -- protobuf ---------------------------------------------------------------------------------------
def _proto_numpy_dtype(pb: Any, dtype: int) -> Any:
    import numpy as np

    return {
        pb.DTYPE_FLOAT32: np.float32,
        pb.DTYPE_INT64: np.int64,
        pb.DTYPE_INT32: np.int32,
    }.get(dtype, np.float32)


def _decode_tensor(pb: Any, t: Any) -> dict[str, Any]:
    import numpy as np

    np_dtype = _proto_numpy_dtype(pb, t.dtype)
    shape = list(t.shape)
    if t.HasField("sparse_csr"):
        values = np.frombuffer(t.sparse_csr.values, dtype=np_dtype)
        crow = np.frombuffer(t.sparse_csr.crow_indices, dtype=np.int64)
        col = np.frombuffer(t.sparse_csr.col_indices, dtype=np.int64)
        dense = np.zeros(shape, dtype=np_dtype)
        for r in range(len(crow) - 1):
            for k in range(int(crow[r]), int(crow[r + 1])):
                dense[r, int(col[k])] = values[k]
        arr = dense
    else:
        arr = np.frombuffer(t.dense, dtype=np_dtype)
    flat = arr.reshape(-1).tolist()
    return {
        "values": flat,
        "shape": shape or [len(flat)],
        "dtype": "float32" if np_dtype is np.float32 else "int64",
    }


def _decode_forward_backward(raw: bytes) -> dict[str, Any]:
    """The protobuf ForwardBackwardRequest as plain data (tokens and tensors as lists)."""
    import numpy as np
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.ForwardBackwardRequest()
    msg.ParseFromString(raw)
    data = []
    for d in msg.data:
        tokens: list[int] = []
        for chunk in d.model_input:
            kind = chunk.WhichOneof("chunk")
            if kind != "encoded_text":
                raise _HttpError(400, f"the fake Tinker server only takes encoded_text chunks, not {kind!r}")
            tokens.extend(np.frombuffer(chunk.encoded_text.tokens, dtype=np.int32).tolist())
        data.append(
            {
                "model_input": tokens,
                "loss_fn_inputs": {k: _decode_tensor(pb, v) for k, v in d.loss_fn_inputs.items()},
            }
        )
    config: dict[str, Any] = {k: v for k, v in msg.loss_fn_config.items()}
    for k, v in msg.loss_fn_config_v2.items():
        config[k] = v.text if v.WhichOneof("value") == "text" else v.number
    return {
        "model_id": msg.model_id,
        "seq_id": msg.seq_id,
        "loss_fn": msg.loss_fn,
        "loss_fn_config": config,
        "forward_only": msg.forward_only,
        "data": data,
    }


def _encode_forward_backward_output(
    outputs: list[dict[str, tuple[list[float], list[int]]]], metrics: dict[str, float]
) -> bytes:
    import numpy as np
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.ForwardBackwardOutput()
    msg.loss_fn_output_type = "ArrayRecord"
    for k, v in metrics.items():
        msg.metrics[k] = float(v)
    if outputs:
        record = msg.loss_fn_outputs.add()
        record.type_tag = "ArrayRecord"
        record.num_datums = len(outputs)
        for name in outputs[0]:
            arrays = [np.asarray(o[name][0], dtype=np.float32) for o in outputs]
            shapes = [o[name][1] for o in outputs]
            bt = record.fields[name]
            bt.dtype = pb.DTYPE_FLOAT32
            bt.data = b"".join(a.tobytes() for a in arrays)
            bt.offsets = np.cumsum([0] + [a.nbytes for a in arrays], dtype=np.int64).tobytes()
            bt.trailing_shape.extend(list(shapes[0][1:]) if shapes and len(shapes[0]) > 1 else [])
    return msg.SerializeToString()


def _encode_sample_response(
    seqs: list[tuple[list[int], bool]], prompt_len: int, prompt_logprobs: bool
) -> bytes:
    import numpy as np
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.SampleResponse()
    for tokens, truncated in seqs:
        s = msg.sequences.add()
        s.stop_reason = pb.STOP_REASON_LENGTH if truncated else pb.STOP_REASON_STOP
        s.tokens = np.asarray(tokens, dtype=np.int32).tobytes()
        s.logprobs = np.full(len(tokens), -0.5, dtype=np.float32).tobytes()
    if prompt_logprobs:
        lp = np.full(prompt_len, -1.0, dtype=np.float32)
        if prompt_len:
            lp[0] = np.nan
        msg.prompt_logprobs = lp.tobytes()
    return msg.SerializeToString()


if __name__ == "__main__":
    from kilngit.testing.demo import serve_from_command_line

    raise SystemExit(
        serve_from_command_line(
            "fake_tinker",
            lambda port: FakeTinkerServer(port=port),
            lambda s: [f"TINKER_BASE_URL={s.base_url}", f"TINKER_API_KEY={FAKE_API_KEY}"],
        )
    )
