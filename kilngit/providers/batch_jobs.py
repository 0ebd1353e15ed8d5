"""Batch job records (`.kilngit/batches/<token>.json`, this machine's local state), the per-provider batch
settings, and cancelling open batches at their provider (`kilngit batch cancel`).

A job record is saved before and after every call that changes what the provider holds (see
`kilngit.providers.batch_api`): its `status` is the batch's last known status, `new` before the upload and
`uploaded` between upload and create. Once ended (answers recorded) it moves to `ended/`, where only the
count of batches each request was in (`batch_retries`) still reads it. A cancelled job keeps `cancel_requested`; like any ended batch its
answers are recorded by the next command (or watcher) that follows it, and its other requests are asked
again only when a command asks for them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit._io import atomic_write
from kilngit.errors import NotFoundError, ProviderError, UsageError
from kilngit.layout import LOCAL_STATE
from kilngit.records.canonical import to_file_bytes

if TYPE_CHECKING:
    from kilngit.project import Project
    from kilngit.providers.batch_client import BatchAPI
    from kilngit.providers.config import ProviderSettings  # `status` lists open jobs without it

BATCH_DIR = f"{LOCAL_STATE}/batches"
ORIGIN_DIR = f"{BATCH_DIR}/origins"
ENDED = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class BatchOptions:
    """Batch settings of one provider (`options` in its config; see docs/providers.md)."""

    max_requests: int = 50_000
    """Requests per batch (the API's limit); larger jobs are split."""
    max_bytes: int = 200_000_000
    """Bytes per input file (the API's limit is 200 MB); larger jobs are split."""
    price: float = 0.5
    poll_seconds: float = 30.0
    retries: int = 0
    """Further batches a request without an answer goes into before it is asked online."""

    @classmethod
    def of(cls, settings: ProviderSettings) -> BatchOptions:
        o = settings.options or {}
        return cls(
            int(o.get("batch_max_requests", cls.max_requests)),
            int(o.get("batch_max_bytes", cls.max_bytes)),
            float(o.get("batch_price", cls.price)),
            float(o.get("batch_poll_seconds", cls.poll_seconds)),
            int(o.get("batch_retries", cls.retries)),
        )


class BatchJob:
    """One batch job and its record, saved on every change."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def save(self, **changes: Any) -> None:
        """Write the record; an ended job's record moves to `ended/`, out of the way of every scan for open
        jobs (a crash between the write and the unlink leaves an ended record in place: still ended)."""
        self.data.update(changes)
        if self.ended and self.path.parent.name != "ended":
            ended = self.path.parent / "ended" / self.path.name
            atomic_write(ended, to_file_bytes(self.data))
            self.path.unlink(missing_ok=True)
            self.path = ended
        else:
            atomic_write(self.path, to_file_bytes(self.data))

    @property
    def ended(self) -> bool:
        return self.data.get("status") in ENDED


def job_records(project: Project, ended: bool = True) -> Iterator[BatchJob]:
    """Every batch job record of the project, oldest first (without those in `ended/` unless `ended`)."""
    folder = project.root / BATCH_DIR
    paths = list(folder.glob("*.json")) + (list(folder.glob("ended/*.json")) if ended else [])
    for path in sorted(paths, key=_mtime):
        try:
            yield BatchJob(path, json.loads(path.read_bytes()))
        except (OSError, ValueError):
            continue  # a record is written atomically; anything else here is not ours


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # moved to ended/ meanwhile
        return 0.0


def open_jobs(project: Project) -> list[BatchJob]:
    return [j for j in job_records(project, ended=False) if not j.ended]


def batches_in_progress(project: Project) -> list[dict[str, Any]]:
    """Open batch jobs, for `kilngit status`: provider, batch ID, status and request counts."""
    return [_public(job) for job in open_jobs(project)]


def _public(job: BatchJob) -> dict[str, Any]:
    keep = ("job", "provider", "batch_id", "status", "requests", "counts", "cancel_requested")
    return {k: job.data.get(k) for k in keep}


def describe(job: dict[str, Any]) -> str:
    """One line for people about a job as `batches_in_progress` gives it."""
    counts = job.get("counts") or {}
    total = job.get("requests") or counts.get("total") or "?"
    return (
        f"batch {job.get('batch_id') or '(not created yet)'} on {job.get('provider')}: {job.get('status')}, "
        f"{counts.get('completed', 0)}/{total} answered"
        + (" (cancel requested)" if job.get("cancel_requested") else "")
        + f" [job {job.get('job')}]"
    )


def cancel_batches(
    project: Project, batch_ids: Sequence[str] = (), *, everything: bool = False, api: BatchAPI | None = None
) -> list[dict[str, Any]]:
    """Cancel open batch jobs at their provider: those of `batch_ids` (batch or job IDs), or all with
    `everything`. Returns the cancelled jobs as `batches_in_progress` shows them."""
    from kilngit.providers.batch_client import BatchAPI
    from kilngit.providers.config import provider_settings

    if bool(batch_ids) == everything:
        raise UsageError("give batch IDs or --all", "kilngit status lists the open batches")
    jobs = open_jobs(project)
    chosen = [j for j in jobs if everything or {j.data.get("batch_id"), j.data.get("job")} & set(batch_ids)]
    unknown = set(batch_ids) - {j.data.get("batch_id") for j in chosen} - {j.data.get("job") for j in chosen}
    if unknown:
        raise NotFoundError(
            f"no open batch {', '.join(sorted(unknown))}", "kilngit status lists the open batches"
        )
    apis: dict[str, BatchAPI] = {}
    for job in chosen:
        name = job.data["provider"]
        client = api or apis.get(name) or apis.setdefault(name, BatchAPI(provider_settings(name)))
        try:
            _cancel(job, client)
        except Exception as e:  # httpx errors: nothing changed here, a re-run tries again
            raise ProviderError(f"cancelling batch job {job.data['job']} on {name!r}: {e}") from e
    return [_public(j) for j in chosen]


def save_origin(project: Project, spec: dict[str, Any]) -> str:
    """Keep what a command needs to finish its batches without it (`kilngit.sync.batches` reads it back);
    returns its ID, derived from its content (the same command gets the same ID)."""
    data = to_file_bytes(spec)
    origin = hashlib.sha256(data).hexdigest()[:24]
    path = project.root / ORIGIN_DIR / f"{origin}.json"
    if not path.exists():
        atomic_write(path, data)
    return origin


def load_origin(project: Project, origin: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads((project.root / ORIGIN_DIR / f"{origin}.json").read_bytes()))
    except (OSError, ValueError):
        return None


def _cancel(job: BatchJob, api: BatchAPI) -> None:
    import httpx

    batch_id = job.data.get("batch_id")
    if not batch_id and job.data.get("input_file_id"):  # the create may have happened, its answer lost
        found = api.find_batch(job.data["job"])
        batch_id = found["id"] if found else None
    if not batch_id:  # nothing reached the provider as a batch: nothing to stop there
        job.save(status="cancelled", cancel_requested=True)
        return
    try:
        batch = api.cancel(batch_id)
    except httpx.HTTPStatusError as e:  # it ended meanwhile: left as it is, the next poll records it
        if e.response.status_code >= 500:
            raise
        job.save(batch_id=batch_id)
        return
    status = batch.get("status")  # an ended status is only saved once its answers are recorded
    job.save(
        batch_id=batch_id,
        status="cancelling" if status in ENDED or not status else status,
        counts=batch.get("request_counts"),
        cancel_requested=True,
    )
