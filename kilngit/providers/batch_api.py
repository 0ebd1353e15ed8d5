"""Answering many chat requests through a Batch API (OpenAI's `/v1/batches`, or any compatible endpoint), at
the batch price, straight into the record/replay recordings; the ordinary run then reads them from there, so
its runs are the ones an online run writes and replay works.

    tally = prefetch(project, "openai", requests, folder=cache_settings(project, "record").folder)

Nothing is submitted twice, whatever crashes when (as with hosted fine-tune jobs): a job record
`.kilngit/batches/<job>.json` is written before each call and after it --

1. before the upload: the job's token and the cache keys of its requests (the JSONL line `custom_id`s);
   the file is named after the token, so a re-run that lost the upload's answer finds it by name;
2. after the upload: the input file ID; before creating the batch the token goes into its metadata, so a
   re-run that lost the create's answer finds the batch instead of creating another;
3. after the create: the batch ID; from then on a re-run only polls and downloads.

Requests already recorded are never sent; a job of these requests left open by a crash is finished before new
ones start (open jobs of other requests are left to the command that asks for them).
Lines that failed (the error file, an unusable body, an expired batch) are not recorded: the ordinary run that
follows asks for them online. Settings per provider (`options` in the provider config): `batch_max_requests`
(default 50,000, the API's limit per batch: larger jobs are split), `batch_price` (default 0.5, the share of
the online price recorded as cost), `batch_poll_seconds` (default 30).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit._io import atomic_write
from kilngit.errors import ProviderError
from kilngit.layout import LOCAL_STATE
from kilngit.providers.base import ChatRequest, RequestFailed
from kilngit.providers.cache import ResponseCache, cache_key, request_identity
from kilngit.providers.config import ProviderSettings
from kilngit.providers.openai_compat import OpenAICompatProvider, request_kwargs
from kilngit.providers.secrets import redact
from kilngit.records.canonical import to_file_bytes

if TYPE_CHECKING:
    from kilngit.project import Project

BATCH_DIR = f"{LOCAL_STATE}/batches"
ENDED = ("completed", "failed", "expired", "cancelled")
META_KEY = "kilngit_job"


@dataclass(frozen=True)
class BatchOptions:
    max_requests: int = 50_000
    price: float = 0.5
    poll_seconds: float = 30.0

    @classmethod
    def of(cls, settings: ProviderSettings) -> BatchOptions:
        o = settings.options or {}
        return cls(
            int(o.get("batch_max_requests", cls.max_requests)),
            float(o.get("batch_price", cls.price)),
            float(o.get("batch_poll_seconds", cls.poll_seconds)),
        )


@dataclass
class BatchTally:
    """What the batches did for one command."""

    submitted: int = 0
    """Requests sent in batches created by this command."""
    recorded: int = 0
    failed: int = 0
    """Lines without a usable answer (asked again online)."""
    batches: list[str] = field(default_factory=list)


class BatchAPI:
    """The wire calls: files and batches of an OpenAI-compatible endpoint (keys from the environment)."""

    def __init__(self, settings: ProviderSettings) -> None:
        import httpx

        if not settings.base_url:
            raise ProviderError(f"provider {settings.name!r} has no base_url", "see docs/providers.md")
        env = settings.api_key_env
        key = os.environ.get(env, "").strip() if env else "not-needed"
        if not key:
            raise ProviderError(
                f"batches on provider {settings.name!r} need an API key in ${env}, which is not set",
                f"export {env}=... (kilngit never stores keys)",
            )
        self.secret = key
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            headers={"Authorization": f"Bearer {key}"},
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    def find_file(self, filename: str) -> str | None:
        files = self._call("GET", "/files", params={"purpose": "batch", "limit": 10000}).json()
        return next((f["id"] for f in files.get("data", []) if f.get("filename") == filename), None)

    def upload(self, filename: str, data: bytes) -> str:
        files = {"file": (filename, data, "application/jsonl")}
        return str(self._call("POST", "/files", files=files, data={"purpose": "batch"}).json()["id"])

    def find_batch(self, token: str) -> dict[str, Any] | None:
        """The batch carrying `token` in its metadata, among the 100 newest."""
        batches = self._call("GET", "/batches", params={"limit": 100}).json().get("data", [])
        return next((b for b in batches if (b.get("metadata") or {}).get(META_KEY) == token), None)

    def create(self, file_id: str, token: str) -> dict[str, Any]:
        body = {
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {META_KEY: token},
        }
        return dict(self._call("POST", "/batches", json=body).json())

    def get(self, batch_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/batches/{batch_id}").json())

    def content(self, file_id: str) -> bytes:
        return bytes(self._call("GET", f"/files/{file_id}/content").content)


def job_records(project: Project) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every batch job record of the project (this machine's local state), oldest first."""
    folder = project.root / BATCH_DIR
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    for path in paths:
        try:
            yield path, json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue  # a record is written atomically; anything else here is not ours


def batches_in_progress(project: Project) -> list[dict[str, Any]]:
    """Open batch jobs, for `kilngit status`: provider, batch ID, status and request counts."""
    return [
        {k: job.get(k) for k in ("job", "provider", "batch_id", "status", "requests", "counts")}
        for _, job in job_records(project)
        if job.get("status") not in ENDED
    ]


class _Job:
    """One batch job and its record, saved on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def save(self, **changes: Any) -> None:
        self.data.update(changes)
        atomic_write(self.path, to_file_bytes(self.data))

    @property
    def ended(self) -> bool:
        return self.data.get("status") in ENDED


def prefetch(
    project: Project,
    settings: ProviderSettings,
    requests: list[ChatRequest],
    *,
    folder: Path,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchTally:
    """Record answers to `requests` through batches (see the module docstring); returns what was done."""
    name = settings.name
    options = BatchOptions.of(settings)
    cache = ResponseCache(folder)
    by_key = {cache_key(name, r): r for r in requests}
    tally = BatchTally()
    jobs = [  # open jobs of these requests (another command's jobs are left to it: it can record them)
        _Job(p, d)
        for p, d in job_records(project)
        if d.get("provider") == name
        and d.get("status") not in ENDED
        and not by_key.keys().isdisjoint(d["keys"])
    ]
    open_keys = {k for j in jobs for k in j.data["keys"]}
    missing = [k for k in by_key if k not in open_keys and not cache.path(k).exists()]
    if not jobs and not missing:
        return tally
    api = api or BatchAPI(settings)
    for start in range(0, len(missing), max(1, options.max_requests)):
        token = uuid.uuid4().hex
        job = _Job(project.root / BATCH_DIR / f"{token}.json", {"job": token, "provider": name})
        job.save(keys=missing[start : start + options.max_requests], status="new")
        jobs.append(job)
    try:
        for job in jobs:
            _submit(job, by_key, api, tally)
        while not all(j.ended for j in jobs):
            waiting = [j for j in jobs if not j.ended]
            for job in waiting:
                batch = api.get(job.data["batch_id"])
                if batch.get("status") in ENDED:
                    _download(job, batch, by_key, settings, options, cache, api, tally)
                elif batch.get("status") != job.data.get("status"):
                    job.save(status=batch.get("status"), counts=batch.get("request_counts"))
            if not all(j.ended for j in jobs):
                sleep(options.poll_seconds)
    except ProviderError:
        raise
    except Exception as e:  # httpx errors: a re-run resumes from the job records
        raise ProviderError(
            f"batch API of {name!r}: {redact(f'{type(e).__name__}: {e}', [api.secret])}",
            "re-run the same command to resume (nothing is submitted twice)",
        ) from e
    return tally


def _submit(job: _Job, by_key: dict[str, ChatRequest], api: BatchAPI, tally: BatchTally) -> None:
    """Upload the job's file and create its batch, each at most once (see the module docstring)."""
    if job.data.get("batch_id"):
        return
    token = job.data["job"]
    filename = f"kilngit-batch-{token}.jsonl"
    if not job.data.get("input_file_id"):
        keys = [k for k in job.data["keys"] if k in by_key]
        if not keys:  # its requests are no longer asked for (inputs or definitions changed)
            job.save(status="cancelled", keys=[])
            return
        lines = (
            json.dumps(
                {
                    "custom_id": k,
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": request_kwargs(by_key[k]),
                },
                ensure_ascii=False,
            )
            for k in keys
        )
        data = ("\n".join(lines) + "\n").encode()
        file_id = api.find_file(filename) or api.upload(filename, data)
        job.save(keys=keys, input_file_id=file_id, status="uploaded", requests=len(keys))
    found = api.find_batch(token)
    batch = found or api.create(job.data["input_file_id"], token)
    if found is None:
        tally.submitted += len(job.data["keys"])
    tally.batches.append(batch["id"])
    job.save(batch_id=batch["id"], status=batch.get("status"), counts=batch.get("request_counts"))


def _download(
    job: _Job,
    batch: dict[str, Any],
    by_key: dict[str, ChatRequest],
    settings: ProviderSettings,
    options: BatchOptions,
    cache: ResponseCache,
    api: BatchAPI,
    tally: BatchTally,
) -> None:
    """Record every answered line of an ended batch; count the rest as failed (asked online later)."""
    parser = OpenAICompatProvider(settings)
    answered = 0
    if batch.get("output_file_id"):
        for line in api.content(batch["output_file_id"]).splitlines():
            entry = json.loads(line) if line.strip() else {}
            key = str(entry.get("custom_id"))
            response = entry.get("response") or {}
            if key not in by_key or response.get("status_code") != 200:
                continue
            request, body = by_key[key], response.get("body")
            try:
                answer = parser._answer(body, 0.0, request.model)
            except RequestFailed:
                continue  # not a chat completion: asked online
            reported = isinstance(body, dict) and "cost" in (body.get("usage") or {})
            cost = answer.cost if answer.cost is None or reported else round(answer.cost * options.price, 8)
            answer = replace(answer, cost=cost, latency_ms=None, extra={"batch": batch["id"]})
            cache.put(key, request_identity(settings.name, request), answer, durable=False)
            answered += 1
    if answered:
        os.sync()  # one flush for the whole file, before the record says the batch is done
    errors: list[str] = []
    if batch.get("error_file_id"):  # why lines failed, kept in the job record (they are asked online)
        for line in api.content(batch["error_file_id"]).splitlines()[:5]:
            body = ((json.loads(line).get("response") or {}).get("body") or {}) if line.strip() else {}
            errors.append(str((body.get("error") or {}).get("message") or body)[:300])
    tally.recorded += answered
    tally.failed += len(job.data["keys"]) - answered
    job.save(status=batch["status"], counts=batch.get("request_counts"), recorded=answered, errors=errors)
