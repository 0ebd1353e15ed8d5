"""OpenAI fine-tuning (`/v1/files`, `/v1/fine_tuning/jobs`) through the `openai` SDK.

The request token travels as job metadata (`kilngit_request`), so a lost creation answer is found again with
`jobs.list(metadata=...)`. Events come newest first; the cursor is the ID of the last one seen. Metrics
events (`type: metrics`, `data: {step, train_loss, ...}`) become step metrics. The fine-tuned model
(`ft:...`) is served by the `openai` provider.

The connection comes from the `openai` provider settings (`kilngit.providers.config`: base URL, the name of
the API key's environment variable); the key itself is read from the environment and never written.
"""

from __future__ import annotations

from typing import Any

from kilngit.finetune.backends import finetune_backend
from kilngit.finetune.backends._http import api_key
from kilngit.finetune.backends.base import EventPage, JobEvent, RemoteJob
from kilngit.finetune.backends.hosted import HostedBackend
from kilngit.providers.config import provider_settings
from kilngit.records import FineTune, StepMetrics
from kilngit.records.finetune import FineTuneState

_STATES: dict[str, FineTuneState] = {
    "validating_files": "queued",
    "queued": "queued",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
}
METADATA_KEY = "kilngit_request"
PARAMS: dict[str, type] = {
    "n_epochs": int,
    "batch_size": int,
    "learning_rate_multiplier": float,
    "seed": int,
    "suffix": str,
}


def openai_client(provider: str = "openai") -> Any:
    """An `openai.OpenAI` client for the provider's settings, SDK retries off (kilngit retries itself)."""
    import openai  # the SDK (~1-2 s) only when the API is called; `finetune create` reads PARAMS

    key, timeout = api_key(provider, repr(provider))
    return openai.OpenAI(
        base_url=provider_settings(provider).base_url, api_key=key, max_retries=0, timeout=timeout
    )


class OpenAIFineTuning:
    """`HostedAPI` over an `openai.OpenAI` client."""

    inference_provider = "openai"

    def __init__(self, client: Any = None) -> None:
        self.client = client or openai_client()
        self.secret = getattr(self.client, "api_key", None)

    def find_file(self, filename: str) -> str | None:
        for f in self.client.files.list(purpose="fine-tune", limit=100):  # newest first, pages followed
            if f.filename == filename:
                return str(f.id)
        return None

    def upload(self, filename: str, data: bytes) -> str:
        return str(self.client.files.create(file=(filename, data), purpose="fine-tune").id)

    def find_job(self, token: str) -> RemoteJob | None:
        try:
            page = self.client.fine_tuning.jobs.list(limit=100, metadata={METADATA_KEY: token})
        except Exception as e:
            if self.transient(e):
                return None
            raise
        job = next((j for j in page.data if (j.metadata or {}).get(METADATA_KEY) == token), None)
        return None if job is None else _job(job)

    def create_job(self, spec: FineTune, files: dict[str, str], token: str) -> RemoteJob:
        hyper = {
            k: spec.params[k]
            for k in ("n_epochs", "batch_size", "learning_rate_multiplier")
            if k in spec.params
        }
        kwargs: dict[str, Any] = {
            "model": spec.base_model,
            "training_file": files["train"],
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
            "metadata": {METADATA_KEY: token},
        }
        if "validation" in files:
            kwargs["validation_file"] = files["validation"]
        for key in ("suffix", "seed"):
            if key in spec.params:
                kwargs[key] = spec.params[key]
        return _job(self.client.fine_tuning.jobs.create(**kwargs))

    def get_job(self, job_id: str) -> RemoteJob:
        return _job(self.client.fine_tuning.jobs.retrieve(job_id))

    def events(self, job_id: str, cursor: str | None) -> EventPage:
        fresh = []
        for event in self.client.fine_tuning.jobs.list_events(job_id, limit=100):  # newest first
            if event.id == cursor:
                break
            fresh.append(event)
        fresh.reverse()
        return EventPage(
            [JobEvent(e.message, _step(e.data) if e.type == "metrics" else None) for e in fresh],
            fresh[-1].id if fresh else cursor,
        )

    def cancel_job(self, job_id: str) -> None:
        self.client.fine_tuning.jobs.cancel(job_id)

    def transient(self, error: Exception) -> bool:
        import openai  # loaded by openai_client() before any error can reach here

        if isinstance(error, (openai.APIConnectionError, openai.APITimeoutError)):
            return True
        return isinstance(error, openai.APIStatusError) and (
            error.status_code >= 500 or error.status_code in (408, 409, 429)
        )


def _job(job: Any) -> RemoteJob:
    err = job.error
    error = (f"{err.code}: {err.message}" if err.code else err.message) if err and err.message else None
    details = {"trained_tokens": job.trained_tokens} if job.trained_tokens is not None else {}
    return RemoteJob(
        job.id,
        _STATES.get(job.status),
        job.fine_tuned_model if job.status == "succeeded" else None,
        error,
        details,
    )


def _step(data: Any) -> StepMetrics | None:
    if not isinstance(data, dict):
        return None
    step = data.get("step")
    if not isinstance(step, int) or step < 1:
        return None
    extra = {
        k: float(v)
        for k, v in data.items()
        if k not in ("step", "train_loss") and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    loss = data.get("train_loss")
    return StepMetrics(step=step, loss=float(loss) if isinstance(loss, (int, float)) else None, metrics=extra)


BACKEND = finetune_backend(HostedBackend("openai", PARAMS, OpenAIFineTuning))
