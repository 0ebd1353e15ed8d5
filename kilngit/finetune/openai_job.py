"""OpenAI fine-tuning jobs: upload, create, poll with backoff, events and metrics, cancel.

Nothing is done twice, whatever crashes when:

1. each training file's ID is written to `status.json` as soon as the upload returns, before the job is
   created, so a re-run never uploads the same data again (its SHA-256 is kept beside it);
2. a request token is written before the job-creation request and sent as the job's metadata; a re-run (or
   a retry after a dropped connection, where the job may exist though its answer was lost) first looks for
   a job carrying that token, and only creates one when there is none;
3. the job ID is written as soon as it is known; from then on `start` only refreshes.

The connection comes from the `openai` provider settings (`kilngit.providers.config`: base URL, the name of
the API key's environment variable); the key itself is read from the environment and never written.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.examples import finetune_examples
from kilngit.finetune.export import openai_jsonl
from kilngit.finetune.jobs import TERMINAL, model_run_config, read_status, run_config_slug, write_status
from kilngit.finetune.metrics import MetricsWriter
from kilngit.project import Project
from kilngit.providers.config import provider_settings
from kilngit.providers.secrets import redact
from kilngit.records import FineTune, FineTuneStatus, StepMetrics

_STATES = {"validating_files": "queued", "queued": "queued", "running": "running", "succeeded": "succeeded",
           "failed": "failed", "cancelled": "cancelled"}
METADATA_KEY = "kilngit_request"


@dataclass(frozen=True)
class PollPolicy:
    """How patiently to wait for a job: the first pause, growing by `backoff` up to `max_interval`, for at
    most `timeout` seconds (None: until the job ends). Failed polls back off the same way."""

    interval: float = 5.0
    max_interval: float = 60.0
    backoff: float = 1.5
    timeout: float | None = None
    create_retries: int = 4
    """Attempts at creating the job when the connection fails (each first looks for the job)."""


DEFAULT_POLL = PollPolicy()


def openai_client(provider: str = "openai") -> Any:
    """An `openai.OpenAI` client for the provider's settings, SDK retries off (kilngit retries itself)."""
    import openai

    settings = provider_settings(provider)
    env = settings.api_key_env
    key = os.environ.get(env, "").strip() if env else "not-needed"
    if not key:
        raise ProviderError(f"fine-tuning with {provider!r} needs an API key in ${env}, which is not set",
                            f"export {env}=... (kilngit never stores keys)")
    return openai.OpenAI(base_url=settings.base_url, api_key=key, max_retries=0, timeout=settings.timeout)


def _fail(e: Exception, what: str, client: Any) -> ProviderError:
    key = getattr(client, "api_key", None)
    return ProviderError(f"{what}: {redact(f'{type(e).__name__}: {e}', [key])}",
                         "check the provider settings and the job on the provider's dashboard; re-run to resume")


def _transient(e: Exception) -> bool:
    import openai

    if isinstance(e, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    return isinstance(e, openai.APIStatusError) and (e.status_code >= 500 or e.status_code in (408, 409, 429))


def start_openai(project: Project, task: str, name: str, spec: FineTune, *, client: Any = None,
                 wait: bool = False, poll: PollPolicy = DEFAULT_POLL, retry: bool = False) -> FineTuneStatus:
    """Upload the training data and create the job, each at most once; see the module docstring.

    A job that failed or was cancelled is only replaced by a new one with `retry` (files are reused)."""
    client = client or openai_client()
    status = read_status(project, task, name)
    if retry and status.state in ("failed", "cancelled"):
        kept = {k: v for k, v in (status.details or {}).items() if k not in ("last_event", "last_message")}
        status = write_status(project, status, provider_job_id=None, request_token=None, state="pending",
                              error=None, fine_tuned_model=None, details=kept)
    if status.provider_job_id is None:
        status = _upload(project, task, name, spec, client, status)
        status = _create(project, spec, client, status, poll)
    status = refresh_openai(project, task, name, spec, client=client)
    return wait_openai(project, task, name, spec, client=client, poll=poll) if wait else status


def _upload(project: Project, task: str, name: str, spec: FineTune, client: Any,
            status: FineTuneStatus) -> FineTuneStatus:
    parts = {"train": spec.train_part, "validation": spec.validation_part}
    for role, part in parts.items():
        if part is None:
            continue
        built = finetune_examples(project, task, spec, part)
        if not built.examples:
            raise UsageError(f"the {part!r} part of split {spec.split!r} has no usable examples",
                             f"skipped runs: {dict(built.skipped) or 'none'}; add runs or change the split")
        data = openai_jsonl(built.examples)
        digest = hashlib.sha256(data).hexdigest()[:16]
        details = dict(status.details or {})
        if status.provider_file_ids.get(role) and details.get(f"{role}_sha256") == digest:
            continue  # uploaded before a crash: never again
        details[f"{role}_sha256"] = digest
        status = write_status(project, status, state="uploading", details=details, error=None)
        try:
            uploaded = client.files.create(file=(f"kilngit-{task}-{name}-{role}-{digest}.jsonl", data),
                                           purpose="fine-tune")
        except Exception as e:
            raise _fail(e, f"uploading the {role} file of fine-tune {name!r}", client) from e
        status = write_status(project, status, provider_file_ids={**status.provider_file_ids, role: uploaded.id})
    return status


def _create(project: Project, spec: FineTune, client: Any, status: FineTuneStatus,
            poll: PollPolicy) -> FineTuneStatus:
    if status.request_token is None:
        status = write_status(project, status, request_token=uuid.uuid4().hex)
    token = status.request_token
    hyper = {k: spec.params[k] for k in ("n_epochs", "batch_size", "learning_rate_multiplier") if k in spec.params}
    kwargs: dict[str, Any] = {
        "model": spec.base_model, "training_file": status.provider_file_ids["train"],
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        "metadata": {METADATA_KEY: token},
    }
    if "validation" in status.provider_file_ids:
        kwargs["validation_file"] = status.provider_file_ids["validation"]
    for key in ("suffix", "seed"):
        if key in spec.params:
            kwargs[key] = spec.params[key]
    delay = poll.interval
    for attempt in range(poll.create_retries + 1):
        job = _find_job(client, token)
        if job is None:
            try:
                job = client.fine_tuning.jobs.create(**kwargs)
            except Exception as e:
                if not _transient(e) or attempt == poll.create_retries:
                    raise _fail(e, f"creating the fine-tuning job {status.finetune!r}", client) from e
                time.sleep(delay)
                delay = min(delay * poll.backoff, poll.max_interval)
                continue
        return write_status(project, status, provider_job_id=job.id, state=_STATES.get(job.status, "queued"))
    raise AssertionError("unreachable")


def _find_job(client: Any, token: str | None) -> Any:
    """The job created with this request token, if the provider has one (its creation answer may be lost)."""
    try:
        page = client.fine_tuning.jobs.list(limit=100, metadata={METADATA_KEY: token})
    except Exception as e:
        if _transient(e):
            return None
        raise _fail(e, "listing fine-tuning jobs", client) from e
    return next((j for j in page.data if (j.metadata or {}).get(METADATA_KEY) == token), None)


def refresh_openai(project: Project, task: str, name: str, spec: FineTune, *, client: Any = None
                   ) -> FineTuneStatus:
    """Fetch the job's state and its new events (metrics go to the metrics files); on success add the run
    config of the fine-tuned model."""
    client = client or openai_client()
    status = read_status(project, task, name)
    if status.provider_job_id is None:
        return status
    try:
        job = client.fine_tuning.jobs.retrieve(status.provider_job_id)
        events = _new_events(client, status)
    except Exception as e:
        raise _fail(e, f"refreshing fine-tuning job {status.provider_job_id}", client) from e
    details = dict(status.details or {})
    metrics = [_step(e.data) for e in events if e.type == "metrics" and isinstance(e.data, dict)]
    MetricsWriter(project, task, name).write(*[m for m in metrics if m is not None])
    if events:
        details["last_event"] = events[-1].id
        details["last_message"] = events[-1].message
    if job.trained_tokens is not None:
        details["trained_tokens"] = job.trained_tokens
    changes: dict[str, Any] = {"state": _STATES.get(job.status, status.state), "details": details}
    if job.status == "succeeded" and job.fine_tuned_model:
        slug = status.run_config or run_config_slug(name)
        model_run_config(project, task, slug, spec, "openai", job.fine_tuned_model,
                         f"Fine-tuned by kilngit fine-tune {name!r} (job {job.id}).")
        changes |= {"fine_tuned_model": job.fine_tuned_model, "run_config": slug}
    if job.status == "failed":
        err = job.error
        changes["error"] = f"{err.code}: {err.message}" if err and err.code else (err.message if err else "failed")
    return write_status(project, status, **changes)


def _new_events(client: Any, status: FineTuneStatus) -> list[Any]:
    """Events after the last one seen, oldest first (the API lists newest first)."""
    seen = (status.details or {}).get("last_event")
    fresh = []
    for event in client.fine_tuning.jobs.list_events(status.provider_job_id, limit=100):
        if event.id == seen:
            break
        fresh.append(event)
    return fresh[::-1]


def _step(data: dict[str, Any]) -> StepMetrics | None:
    step = data.get("step")
    if not isinstance(step, int) or step < 1:
        return None
    extra = {k: float(v) for k, v in data.items() if k not in ("step", "train_loss") and isinstance(v, (int, float))
             and not isinstance(v, bool)}
    loss = data.get("train_loss")
    return StepMetrics(step=step, loss=float(loss) if isinstance(loss, (int, float)) else None, metrics=extra)


def wait_openai(project: Project, task: str, name: str, spec: FineTune, *, client: Any = None,
                poll: PollPolicy = DEFAULT_POLL) -> FineTuneStatus:
    """Poll until the job ends (or `poll.timeout`), backing off between polls and after failed ones."""
    client = client or openai_client()
    deadline = None if poll.timeout is None else time.monotonic() + poll.timeout
    delay = poll.interval
    status = read_status(project, task, name)
    while status.state not in TERMINAL:
        if deadline is not None and time.monotonic() + delay > deadline:
            break
        time.sleep(delay)
        delay = min(delay * poll.backoff, poll.max_interval)
        try:
            status = refresh_openai(project, task, name, spec, client=client)
        except ProviderError as e:  # a failed poll: keep waiting, longer
            if not (isinstance(e.__cause__, Exception) and _transient(e.__cause__)):
                raise
    return status


def cancel_openai(project: Project, task: str, name: str, *, client: Any = None) -> FineTuneStatus:
    """Cancel the job (a job never created is just marked cancelled)."""
    status = read_status(project, task, name)
    if status.state in TERMINAL:
        return status
    if status.provider_job_id is not None:
        client = client or openai_client()
        try:
            client.fine_tuning.jobs.cancel(status.provider_job_id)
        except Exception as e:
            raise _fail(e, f"cancelling fine-tuning job {status.provider_job_id}", client) from e
    return write_status(project, status, state="cancelled")
