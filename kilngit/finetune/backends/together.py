"""Together fine-tuning through its REST API (`https://api.together.xyz/v1`).

    GET  /files                        find a file uploaded before a crash (by its digest-bearing name)
    POST /files/upload (multipart)     file, file_name, purpose=fine-tune, file_type=jsonl
    POST /fine-tunes                   {training_file, validation_file, model, n_epochs, ..., suffix}
    GET  /fine-tunes                   find the job of a request token (by its suffix)
    GET  /fine-tunes/{id}              status pending|queued|running|compressing|uploading|cancel_requested|
                                       cancelled|error|user_error|completed; the model in `output_name`
    GET  /fine-tunes/{id}/events       the job's log, oldest first; events with a `step` become step metrics
    POST /fine-tunes/{id}/cancel

Together keeps no client metadata on a job, so the request token goes into the model suffix
(`kg-<token>`, after the `suffix` param if any) and a re-run looks for a job with that suffix before
creating one. The events have no IDs: the cursor is how many were seen. The fine-tuned model is served by
the `together` provider (OpenAI compatible, same base URL; serverless LoRA for the models that allow it).

Settings: the `together` provider's base URL and the key in its `api_key_env` (TOGETHER_API_KEY).
"""

from __future__ import annotations

from typing import Any

from kilngit.finetune.backends import finetune_backend
from kilngit.finetune.backends._http import JsonClient, api_key, transient
from kilngit.finetune.backends.base import EventPage, JobEvent, RemoteJob
from kilngit.finetune.backends.hosted import HostedBackend
from kilngit.providers.config import provider_settings
from kilngit.records import FineTune, StepMetrics
from kilngit.records.finetune import FineTuneState

_STATES: dict[str, FineTuneState] = {
    "pending": "queued",
    "queued": "queued",
    "running": "running",
    "compressing": "running",
    "uploading": "running",
    "cancel_requested": "cancelled",
    "cancelled": "cancelled",
    "error": "failed",
    "user_error": "failed",
    "completed": "succeeded",
}
PARAMS: dict[str, type] = {
    "n_epochs": int,
    "n_checkpoints": int,
    "batch_size": int,
    "learning_rate": float,
    "warmup_ratio": float,
    "lora": bool,
    "lora_r": int,
    "lora_alpha": int,
    "suffix": str,
}


class TogetherFineTuning:
    """`HostedAPI` over Together's REST API."""

    inference_provider = "together"

    def __init__(self) -> None:
        key, timeout = api_key("together", "Together")
        self.http = JsonClient(provider_settings("together").base_url or "", key, timeout)
        self.secret: str | None = key

    def find_file(self, filename: str) -> str | None:
        listed = self.http.call("GET", "/files").get("data") or []
        return next((str(f["id"]) for f in listed if f.get("filename") == filename), None)

    def upload(self, filename: str, data: bytes) -> str:
        form = {"file_name": filename, "purpose": "fine-tune", "file_type": "jsonl"}
        return str(self.http.call("POST", "/files/upload", data=form, files={"file": (filename, data)})["id"])

    @staticmethod
    def _suffix(spec: FineTune | None, token: str) -> str:
        tag = f"kg-{token[:12]}"
        user = str(spec.params["suffix"]) if spec is not None and "suffix" in spec.params else ""
        return f"{user}-{tag}" if user else tag

    def find_job(self, token: str) -> RemoteJob | None:
        tag = self._suffix(None, token)
        for job in self.http.call("GET", "/fine-tunes").get("data") or []:
            if str(job.get("suffix") or "").endswith(tag) or tag in str(_output_name(job) or ""):
                return _job(job)
        return None

    def create_job(self, spec: FineTune, files: dict[str, str], token: str) -> RemoteJob:
        body: dict[str, Any] = {
            "training_file": files["train"],
            "model": spec.base_model,
            "suffix": self._suffix(spec, token),
        }
        if "validation" in files:
            body["validation_file"] = files["validation"]
        body |= {k: v for k, v in spec.params.items() if k != "suffix"}
        return _job(self.http.call("POST", "/fine-tunes", json=body))

    def get_job(self, job_id: str) -> RemoteJob:
        return _job(self.http.call("GET", f"/fine-tunes/{job_id}"))

    def events(self, job_id: str, cursor: str | None) -> EventPage:
        listed = self.http.call("GET", f"/fine-tunes/{job_id}/events").get("data") or []
        seen = int(cursor or 0)
        fresh = listed[seen:]
        return EventPage(
            [JobEvent(str(e.get("message") or e.get("type") or ""), _step(e)) for e in fresh],
            str(len(listed)),
        )

    def cancel_job(self, job_id: str) -> None:
        self.http.call("POST", f"/fine-tunes/{job_id}/cancel")

    def transient(self, error: Exception) -> bool:
        return transient(error)


def _output_name(job: dict[str, Any]) -> Any:
    return job.get("output_name") or job.get("model_output_name")


def _job(data: dict[str, Any]) -> RemoteJob:
    state = _STATES.get(str(data.get("status")))
    details = {k: data[k] for k in ("token_count", "epochs_completed") if isinstance(data.get(k), int)}
    error = None
    if state == "failed":
        events = data.get("events") or []
        error = str(data.get("status")) + (f": {events[-1].get('message')}" if events else "")
    model = _output_name(data) if state == "succeeded" else None
    return RemoteJob(str(data["id"]), state, str(model) if model else None, error, details)


def _step(event: dict[str, Any]) -> StepMetrics | None:
    step = event.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        return None
    numbers = {
        k: float(event[k])
        for k in ("total_steps", "token_count")
        if isinstance(event.get(k), int | float) and not isinstance(event.get(k), bool)
    }
    return StepMetrics(step=step, metrics=numbers)


BACKEND = finetune_backend(HostedBackend("together", PARAMS, TogetherFineTuning))
