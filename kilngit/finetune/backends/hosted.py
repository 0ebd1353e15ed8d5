"""Hosted fine-tuning jobs (OpenAI, Fireworks, Together): upload, create, poll with backoff, events, cancel.

Nothing is done twice, whatever crashes when:

1. each training file is named after its data's SHA-256 and its ID is written to `status.json` as soon as the
   upload returns, before the job is created; a re-run never uploads the same data again (it also asks the
   provider for a file of that name first, when the API can list files);
2. a request token is written before the job-creation request and sent with it (as job metadata, job ID or
   model suffix, whatever the API keeps); a re-run, or a retry after a dropped connection (the job may exist
   though its answer was lost), first looks for a job carrying that token and only creates one when there
   is none;
3. the job ID is written as soon as it is known; from then on `start` only refreshes.

The wire calls are a `HostedAPI` (`kilngit.finetune.backends.base`); keys are read from the environment by
the API's constructor and never written.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.backends.base import HostedAPI, PollPolicy, StartOptions
from kilngit.finetune.examples import finetune_examples
from kilngit.finetune.export import openai_jsonl
from kilngit.finetune.jobs import TERMINAL, model_run_config, read_status, run_config_slug, write_status
from kilngit.finetune.metrics import MetricsWriter
from kilngit.project import Project
from kilngit.providers.secrets import redact
from kilngit.records import FineTune, FineTuneStatus


class HostedBackend:
    """A `FineTuneBackend` for a hosted API: `api()` builds the wire client from the settings."""

    def __init__(self, name: str, params: dict[str, type], api: Callable[[], HostedAPI]) -> None:
        self.name, self.params, self._api = name, params, api

    def _fail(self, e: Exception, what: str, api: HostedAPI) -> ProviderError:
        return ProviderError(
            f"{what}: {redact(f'{type(e).__name__}: {e}', [api.secret])}",
            f"check the {self.name} settings and the job on its dashboard; re-run to resume",
        )

    def start(
        self, project: Project, task: str, name: str, spec: FineTune, options: StartOptions
    ) -> FineTuneStatus:
        """Upload the training data and create the job, each at most once; see the module docstring.

        A job that failed or was cancelled is only replaced by a new one with `retry` (files are reused)."""
        status = read_status(project, task, name)
        replace = options.retry and status.state in ("failed", "cancelled")
        if status.state in TERMINAL and not replace:
            return status  # nothing to do: no key or connection needed
        api = options.client or self._api()
        if replace:
            kept = {
                k: v for k, v in (status.details or {}).items() if k not in ("last_event", "last_message")
            }
            status = write_status(
                project,
                status,
                provider_job_id=None,
                request_token=None,
                state="pending",
                error=None,
                fine_tuned_model=None,
                details=kept,
            )
        if status.provider_job_id is None:
            status = self._upload(project, task, name, spec, api, status)
            status = self._create(project, spec, api, status, options.poll)
        status = self.refresh(project, task, name, spec, api)
        return self.wait(project, task, name, spec, api, options.poll) if options.wait else status

    def _upload(
        self, project: Project, task: str, name: str, spec: FineTune, api: HostedAPI, status: FineTuneStatus
    ) -> FineTuneStatus:
        parts = {"train": spec.train_part, "validation": spec.validation_part}
        for role, part in parts.items():
            if part is None:
                continue
            built = finetune_examples(project, task, spec, part)
            if not built.examples:
                raise UsageError(
                    f"the {part!r} part of split {spec.split!r} has no usable examples",
                    f"skipped runs: {dict(built.skipped) or 'none'}; add runs or change the split",
                )
            data = openai_jsonl(built.examples)
            digest = hashlib.sha256(data).hexdigest()[:16]
            details = dict(status.details or {})
            if status.provider_file_ids.get(role) and details.get(f"{role}_sha256") == digest:
                continue  # uploaded before a crash: never again
            details[f"{role}_sha256"] = digest
            status = write_status(project, status, state="uploading", details=details, error=None)
            filename = f"kilngit-{task}-{name}-{role}-{digest}.jsonl"
            try:
                file_id = api.find_file(filename) or api.upload(filename, data)
            except Exception as e:
                raise self._fail(e, f"uploading the {role} file of fine-tune {name!r}", api) from e
            status = write_status(
                project, status, provider_file_ids={**status.provider_file_ids, role: file_id}
            )
        return status

    def _create(
        self, project: Project, spec: FineTune, api: HostedAPI, status: FineTuneStatus, poll: PollPolicy
    ) -> FineTuneStatus:
        if status.request_token is None:
            status = write_status(project, status, request_token=uuid.uuid4().hex)
        token = str(status.request_token)
        delay = poll.interval
        for attempt in range(poll.create_retries + 1):
            try:
                job = api.find_job(token) or api.create_job(spec, dict(status.provider_file_ids), token)
            except Exception as e:
                if not api.transient(e) or attempt == poll.create_retries:
                    raise self._fail(
                        e, f"creating the {self.name} fine-tuning job {status.finetune!r}", api
                    ) from e
                time.sleep(delay)
                delay = min(delay * poll.backoff, poll.max_interval)
                continue
            return write_status(project, status, provider_job_id=job.id, state=job.state or "queued")
        raise AssertionError("unreachable")

    def refresh(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        """Fetch the job's state and its new events (metrics go to the metrics files); on success add the run
        config of the fine-tuned model."""
        status = read_status(project, task, name)
        if status.provider_job_id is None or status.state in TERMINAL:
            return status
        api = client or self._api()
        details = dict(status.details or {})
        try:
            job = api.get_job(status.provider_job_id)
            page = api.events(status.provider_job_id, details.get("last_event"))
        except Exception as e:
            raise self._fail(
                e, f"refreshing {self.name} fine-tuning job {status.provider_job_id}", api
            ) from e
        MetricsWriter(project, task, name).write(*[e.metrics for e in page.events if e.metrics is not None])
        if page.cursor is not None:
            details["last_event"] = page.cursor
        if page.events:
            details["last_message"] = page.events[-1].message
        details.update(job.details)
        changes: dict[str, Any] = {"state": job.state or status.state, "details": details}
        if job.state == "succeeded" and job.model:
            slug = status.run_config or run_config_slug(name)
            model_run_config(
                project,
                task,
                slug,
                spec,
                api.inference_provider,
                job.model,
                f"Fine-tuned by kilngit fine-tune {name!r} ({self.name} job {job.id}).",
            )
            changes |= {"fine_tuned_model": job.model, "run_config": slug}
        if job.state == "failed":
            changes["error"] = job.error or "failed"
        return write_status(project, status, **changes)

    def wait(
        self, project: Project, task: str, name: str, spec: FineTune, api: HostedAPI, poll: PollPolicy
    ) -> FineTuneStatus:
        """Poll until the job ends (or `poll.timeout`), backing off between polls and after failed ones."""
        deadline = None if poll.timeout is None else time.monotonic() + poll.timeout
        delay = poll.interval
        status = read_status(project, task, name)
        while status.state not in TERMINAL:
            if deadline is not None and time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * poll.backoff, poll.max_interval)
            try:
                status = self.refresh(project, task, name, spec, api)
            except ProviderError as e:  # a failed poll: keep waiting, longer
                if not (isinstance(e.__cause__, Exception) and api.transient(e.__cause__)):
                    raise
        return status

    def cancel(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        """Cancel the job at the provider (a job never created is just marked cancelled)."""
        status = read_status(project, task, name)
        if status.state in TERMINAL:
            raise UsageError(f"fine-tune {name!r} already {status.state}", "nothing to cancel")
        if status.provider_job_id is not None:
            api = client or self._api()
            try:
                api.cancel_job(status.provider_job_id)
            except Exception as e:
                raise self._fail(
                    e, f"cancelling {self.name} fine-tuning job {status.provider_job_id}", api
                ) from e
        return write_status(project, status, state="cancelled")
