"""Record/replay: a content-keyed cache of model answers that can live inside the project.

The key is a hash of everything that determines an answer: the endpoint (the provider *name* the run config
or judge uses, not its URL, which is per-machine configuration and may carry secrets), the model, every
parameter and the full messages. Each answer is one canonical JSON file, `<folder>/<key[:2]>/<key>.json`,
written atomically, so recordings can be committed and reviewed like any other record and two people
recording the same request write the same bytes.

Modes: `record` answers from the cache when it can and records what it had to ask; `replay` never calls the
provider (a miss is an error naming the request); `off` bypasses the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from kilngit._io import atomic_write
from kilngit.errors import UsageError
from kilngit.providers.base import ChatRequest, ChatResponse, Provider, RequestFailed, TokenLogprob
from kilngit.records.canonical import jcs_bytes, to_file_bytes

if TYPE_CHECKING:
    from kilngit.project import Project

CacheMode = Literal["record", "replay", "off"]
CACHE_MODES: tuple[str, ...] = ("record", "replay", "off")
CACHE_FORMAT = 1
KEY_LENGTH = 32


@dataclass(frozen=True)
class CacheSettings:
    mode: CacheMode
    folder: Path


def cache_settings(project: Project | None, mode: str | None = None) -> CacheSettings:
    """The cache mode and folder: `mode` if given, else $KILNGIT_CACHE, else the project's `recordings.mode`,
    else off. The folder is the project's `recordings.path` (default `recordings/`), or $KILNGIT_CACHE_PATH."""
    recordings = project.manifest.recordings if project is not None else None
    chosen = mode or os.environ.get("KILNGIT_CACHE") or (recordings.mode if recordings else "off")
    if chosen not in CACHE_MODES:
        raise UsageError(f"unknown cache mode {chosen!r}", f"use one of: {', '.join(CACHE_MODES)}")
    env_path = os.environ.get("KILNGIT_CACHE_PATH")
    if env_path:
        folder = Path(env_path).expanduser().absolute()
    elif project is not None:
        folder = project.root / (recordings.path if recordings else "recordings")
    elif chosen != "off":
        raise UsageError(
            "the response cache needs a folder", "run inside a project or set KILNGIT_CACHE_PATH"
        )
    else:
        folder = Path("recordings").absolute()
    return CacheSettings(cast(CacheMode, chosen), folder)


def request_identity(provider: str, request: ChatRequest) -> dict[str, Any]:
    """What the cache key is a hash of (also stored in each entry, so recordings are readable)."""
    data = {"format": CACHE_FORMAT, "provider": provider}
    data.update({f.name: getattr(request, f.name) for f in fields(request)})
    data["messages"] = list(request.messages)
    return {k: v for k, v in data.items() if v is not None and v is not False}


def cache_key(provider: str, request: ChatRequest) -> str:
    """The content key of a request."""
    return hashlib.sha256(jcs_bytes(request_identity(provider, request))).hexdigest()[:KEY_LENGTH]


class ResponseCache:
    """Recorded answers in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatResponse | None:
        try:
            data = json.loads(self.path(key).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise RequestFailed(
                f"recorded answer {self.path(key)} is unreadable: {e}",
                "config",
                "delete the file and record it again",
            ) from e
        return response_from_data(data["response"])

    def put(self, key: str, identity: dict[str, Any], response: ChatResponse, durable: bool = True) -> Path:
        """Write one recording (`durable=False` for bulk writes followed by one `os.sync`)."""
        path = self.path(key)
        atomic_write(
            path,
            to_file_bytes({"key": key, "request": identity, "response": response_data(response)}),
            durable=durable,
        )
        return path


def response_data(response: ChatResponse) -> dict[str, Any]:
    """A response as JSON data (the `cached` flag is not stored: it describes a read, not the answer)."""
    data = asdict(response)
    data.pop("cached")
    return {k: v for k, v in data.items() if k == "content" or (v is not None and v != {})}


def response_from_data(data: dict[str, Any]) -> ChatResponse:
    known = {f.name for f in fields(ChatResponse)}
    values = {k: v for k, v in data.items() if k in known}
    if values.get("logprobs") is not None:
        values["logprobs"] = tuple(
            TokenLogprob(t["token"], t["logprob"], tuple(tuple(a) for a in t.get("top", ())))
            for t in values["logprobs"]
        )
    return ChatResponse(**values, cached=True)


class CachingProvider:
    """Wraps any provider with the record/replay cache."""

    def __init__(self, inner: Provider, folder: Path, mode: CacheMode) -> None:
        self.name = inner.name
        self.inner = inner
        self.mode = mode
        self.cache = ResponseCache(folder)
        self.hits = 0
        self.recorded = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self.mode == "off":
            return await self.inner.complete(request)
        key = cache_key(self.name, request)
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        if self.mode == "replay":
            raise RequestFailed(
                f"no recorded answer for {self.name} model {request.model} asked {_opening(request)!r} "
                f"(key {key}, looked in {self.cache.folder})",
                "replay_miss",
                "record it first with --cache record (needs the provider's API key), or commit the missing "
                "recordings",
            )
        response = await self.inner.complete(request)
        self.cache.put(key, request_identity(self.name, request), response)
        self.recorded += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _opening(request: ChatRequest, words: int = 12) -> str:
    """The first words of the last message, to name a request in an error."""
    content = request.messages[-1].get("content") if request.messages else ""
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    parts = str(content or "").split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")
