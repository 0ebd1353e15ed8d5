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

Requests already recorded are never sent; a job of these requests left open by a crash is resumed (open jobs
of other requests are left to the command that asks for them). Lines that failed (the error file, an unusable
body, an expired or failed batch) are not recorded: they go into a next batch while they have been in fewer
than 1 + `batch_retries` batches, then the ordinary run that follows asks them online. A batch cancelled while
the command waits (`kilngit batch cancel`) is not retried: its answers are recorded, the rest left for a
re-run. Settings per provider are in `kilngit.providers.batch_jobs.BatchOptions` (docs/providers.md).

The wire calls are in `batch_client`, the job records in `batch_jobs`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit.errors import ProviderError
from kilngit.providers.base import ChatRequest, RequestFailed
from kilngit.providers.batch_client import BatchAPI
from kilngit.providers.batch_jobs import BATCH_DIR, ENDED, BatchJob, BatchOptions, job_records
from kilngit.providers.cache import ResponseCache, cache_key, request_identity
from kilngit.providers.config import ProviderSettings
from kilngit.providers.openai_compat import OpenAICompatProvider, request_kwargs
from kilngit.providers.secrets import redact

__all__ = ["BatchTally", "prefetch"]

if TYPE_CHECKING:
    from kilngit.project import Project


@dataclass
class BatchTally:
    """What the batches did for one command."""

    submitted: int = 0
    """Requests sent in batches created by this command."""
    recorded: int = 0
    failed: int = 0
    """Lines without a usable answer (asked again in a next batch or online)."""
    batches: list[str] = field(default_factory=list)
    open: int = 0
    """Batches still running when this returned (following only)."""
    left: set[str] = field(default_factory=set)
    """Cache keys the command must not ask now: requests of a batch cancelled while it ran, and (following)
    every request not answered yet."""

    def add(self, other: BatchTally) -> None:
        self.submitted += other.submitted
        self.recorded += other.recorded
        self.failed += other.failed
        self.batches += other.batches
        self.open += other.open
        self.left |= other.left

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "left": len(self.left)}


def prefetch(
    project: Project,
    settings: ProviderSettings,
    requests: Iterable[ChatRequest],
    *,
    folder: Path,
    origin: str | None = None,
    follow: str | None = None,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchTally:
    """Record answers to `requests` through batches (see the module docstring); returns what was done.

    `origin` (from `save_origin`) is written into new job records, so the watcher can finish the command.
    `follow` = an origin ID: poll that command's submitted batches once and record what came back, sending
    nothing new (the watcher's visit)."""
    name = settings.name
    options = BatchOptions.of(settings)
    cache = ResponseCache(folder)
    by_key = {cache_key(name, r): r for r in requests}
    tally = BatchTally()
    records = [j for j in job_records(project) if j.data.get("provider") == name]
    if follow is not None:
        jobs = [
            j for j in records if j.data.get("origin") == follow and not j.ended and j.data.get("batch_id")
        ]
    else:  # open jobs of these requests (another command's jobs are left to it: it can record them)
        jobs = [j for j in records if not j.ended and not by_key.keys().isdisjoint(j.data["keys"])]
    was_cancelled = {j.data["job"] for j in jobs if j.data.get("cancel_requested")}
    tries = Counter(  # batches each request was part of (a batch someone cancelled does not count)
        k
        for j in records
        if j.ended and j.data.get("batch_id") and not j.data.get("cancel_requested")
        for k in j.data["keys"]
    )
    ended: list[BatchJob] = []
    plan = follow is None
    try:
        while True:
            if plan:  # at the start, and whenever a batch ended (its failed lines may go into a next one)
                jobs += _new_jobs(project, name, by_key, cache, jobs, tries, options, origin, tally)
            waiting = [j for j in jobs if not j.ended]
            if not waiting:
                break
            api = api or BatchAPI(settings)
            for job in waiting:
                _submit(job, by_key, api, tally)
            ended = []
            for job in [j for j in waiting if not j.ended]:  # a cancelled create ended it in _submit
                batch = api.get(job.data["batch_id"])
                status = batch.get("status")
                if status in ("cancelling", "cancelled"):
                    job.data["cancel_requested"] = True  # cancelled elsewhere: see was_cancelled
                if status in ENDED:
                    _download(job, batch, by_key, settings, options, cache, api, tally)
                    ended.append(job)
                elif status != job.data.get("status"):
                    job.save(status=status, counts=batch.get("request_counts"))
            for job in ended:
                unanswered = [k for k in job.data["keys"] if k in by_key and not cache.path(k).exists()]
                if job.data.get("status") == "cancelled" and job.data["job"] not in was_cancelled:
                    tally.left.update(unanswered)  # cancelled while this command waited: not asked now
                elif not job.data.get("cancel_requested"):
                    tries.update(job.data["keys"])
            plan = follow is None and bool(ended)
            if follow is not None:
                tally.open = sum(not j.ended for j in jobs)
                tally.left.update(k for k in by_key if not cache.path(k).exists())
                break
            if any(not j.ended for j in jobs):
                sleep(options.poll_seconds)
    except ProviderError:
        raise
    except Exception as e:  # httpx errors: a re-run resumes from the job records
        secret = [api.secret] if api else []
        raise ProviderError(
            f"batch API of {name!r}: {redact(f'{type(e).__name__}: {e}', secret)}",
            "re-run the same command to resume (nothing is submitted twice)",
        ) from e
    return tally


def _new_jobs(
    project: Project,
    name: str,
    by_key: dict[str, ChatRequest],
    cache: ResponseCache,
    jobs: list[BatchJob],
    tries: Counter[str],
    options: BatchOptions,
    origin: str | None,
    tally: BatchTally,
) -> list[BatchJob]:
    """Job records for the requests without an answer that are in no open job and have been in fewer than
    1 + `batch_retries` batches, split by count and by bytes; written before anything is sent."""
    open_keys = {k for j in jobs if not j.ended for k in j.data["keys"]}
    missing = [
        k
        for k in by_key
        if k not in open_keys
        and k not in tally.left
        and tries[k] <= options.retries
        and not cache.path(k).exists()
    ]
    chunks: list[list[str]] = []
    size = 0
    for key in missing:
        line = len(_line(key, by_key[key]))
        if not chunks or len(chunks[-1]) >= options.max_requests or size + line > options.max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += line
    new = []
    for keys in chunks:
        token = uuid.uuid4().hex
        job = BatchJob(project.root / BATCH_DIR / f"{token}.json", {"job": token, "provider": name})
        job.save(keys=keys, status="new", **({"origin": origin} if origin else {}))
        new.append(job)
    return new


def _line(key: str, request: ChatRequest) -> bytes:
    """One line of a batch input file."""
    line = {
        "custom_id": key,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": request_kwargs(request),
    }
    return (json.dumps(line, ensure_ascii=False) + "\n").encode()


def _submit(job: BatchJob, by_key: dict[str, ChatRequest], api: BatchAPI, tally: BatchTally) -> None:
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
        data = b"".join(_line(k, by_key[k]) for k in keys)
        file_id = api.find_file(filename) or api.upload(filename, data)
        job.save(keys=keys, input_file_id=file_id, status="uploaded", requests=len(keys))
    found = api.find_batch(token)
    batch = found or api.create(job.data["input_file_id"], token)
    if found is None:
        tally.submitted += len(job.data["keys"])
    tally.batches.append(batch["id"])
    job.save(batch_id=batch["id"], status=batch.get("status"), counts=batch.get("request_counts"))


def _download(
    job: BatchJob,
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
