"""Fireworks supervised fine-tuning through its REST API (`https://api.fireworks.ai/v1/accounts/{account}`).

    POST datasets {datasetId, dataset: {userUploaded: {}}}          a dataset record
    POST datasets/{id}:upload (multipart `file`)                    its JSONL; GET datasets/{id} until READY
    POST supervisedFineTuningJobs?supervisedFineTuningJobId={id}    {dataset, baseModel, epochs, ...}
    GET  supervisedFineTuningJobs/{id}                              state JOB_STATE_*, outputModel, jobProgress
    POST supervisedFineTuningJobs/{id}:cancel {}                     (Gateway.CancelSupervisedFineTuningJob)

The client names both: a dataset's ID comes from the data's digest and a job's from the request token, so
after a crash the dataset or job is found again by ID and never created twice (a 409 means it exists). The
API reports progress (percent, epoch), not per-step events; both go to the status details. The fine-tuned
model (`accounts/{account}/models/...`) is served by the `fireworks` provider (`/inference/v1`, OpenAI
compatible) once it is deployed (serverless LoRA for the base models that allow it).

Settings: the `fireworks` provider's base URL (the API root is that URL without `/inference/v1`), the key in
its `api_key_env` (FIREWORKS_API_KEY) and the account in $FIREWORKS_ACCOUNT_ID.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from kilngit.errors import ProviderError
from kilngit.finetune.backends import finetune_backend
from kilngit.finetune.backends._http import JsonClient, api_key, transient
from kilngit.finetune.backends.base import EventPage, RemoteJob
from kilngit.finetune.backends.hosted import HostedBackend
from kilngit.providers.config import provider_settings
from kilngit.records import FineTune
from kilngit.records.finetune import FineTuneState

INFERENCE_SUFFIX = "/inference/v1"
_STATES: dict[str, FineTuneState] = {
    "JOB_STATE_CREATING": "queued",
    "JOB_STATE_PENDING": "queued",
    "JOB_STATE_VALIDATING": "queued",
    "JOB_STATE_CREATING_INPUT_DATASET": "queued",
    "JOB_STATE_RE_QUEUEING": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_WRITING_RESULTS": "running",
    "JOB_STATE_EVALUATION": "running",
    "JOB_STATE_COMPLETED": "succeeded",
    "JOB_STATE_EARLY_STOPPED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_FAILED_CLEANING_UP": "failed",
    "JOB_STATE_EXPIRED": "failed",
    "JOB_STATE_CANCELLING": "cancelled",
    "JOB_STATE_CANCELLED": "cancelled",
}
#: kilngit param -> request field.
_FIELDS = {
    "epochs": "epochs",
    "learning_rate": "learningRate",
    "lora_rank": "loraRank",
    "batch_size": "batchSize",
    "max_context_length": "maxContextLength",
    "early_stop": "earlyStop",
    "output_model": "outputModel",
    "display_name": "displayName",
}
PARAMS: dict[str, type] = {
    "epochs": int,
    "learning_rate": float,
    "lora_rank": int,
    "batch_size": int,
    "max_context_length": int,
    "early_stop": bool,
    "output_model": str,
    "display_name": str,
}
READY_WAIT = 120.0
"""Seconds to wait for an uploaded dataset to become READY."""


def _resource_id(text: str) -> str:
    """A Fireworks resource ID: lowercase letters, digits and '-', at most 63 characters."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[-63:].lstrip("-")


def _short(job: str) -> str:
    """The job's ID from its ID or its full name (`accounts/.../supervisedFineTuningJobs/ID`, as Kiln keeps it)."""
    return job.rsplit("/", 1)[-1]


class FireworksFineTuning:
    """`HostedAPI` over Fireworks' REST API."""

    inference_provider = "fireworks"

    def __init__(self) -> None:
        key, timeout = api_key("fireworks", "Fireworks")
        self.account = os.environ.get("FIREWORKS_ACCOUNT_ID", "").strip()
        if not self.account:
            raise ProviderError(
                "fine-tuning with Fireworks needs the account ID in $FIREWORKS_ACCOUNT_ID, which is not set",
                "export FIREWORKS_ACCOUNT_ID=... (shown on the dashboard)",
            )
        base = (provider_settings("fireworks").base_url or "").rstrip("/").removesuffix(INFERENCE_SUFFIX)
        self.http = JsonClient(f"{base}/v1/accounts/{self.account}", key, timeout)
        self.secret: str | None = key

    @staticmethod
    def _dataset(filename: str) -> str:
        return _resource_id(filename.removesuffix(".jsonl"))  # ends with the data's digest

    def find_file(self, filename: str) -> str | None:
        data = self.http.call("GET", f"/datasets/{self._dataset(filename)}", ok=(404,))
        return str(data["name"]) if data and data.get("state") == "READY" else None

    def upload(self, filename: str, data: bytes) -> str:
        dataset = self._dataset(filename)
        count = data.count(b"\n")
        self.http.call(
            "POST",
            "/datasets",
            ok=(409,),
            json={  # 409: created before a crash
                "datasetId": dataset,
                "dataset": {"userUploaded": {}, "exampleCount": str(count)},
            },
        )
        self.http.call("POST", f"/datasets/{dataset}:upload", files={"file": (filename, data)})
        deadline = time.monotonic() + READY_WAIT
        while True:
            got = self.http.call("GET", f"/datasets/{dataset}")
            if got.get("state") == "READY":
                return str(got["name"])
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"Fireworks dataset {dataset} is not READY after {READY_WAIT:g} s",
                    "re-run later: the upload is kept",
                )
            time.sleep(1.0)

    @staticmethod
    def _job_id(token: str) -> str:
        return f"kilngit-{token[:24]}"

    def find_job(self, token: str) -> RemoteJob | None:
        data = self.http.call("GET", f"/supervisedFineTuningJobs/{self._job_id(token)}", ok=(404,))
        return _job(data) if data else None

    def create_job(self, spec: FineTune, files: dict[str, str], token: str) -> RemoteJob:
        body: dict[str, Any] = {"dataset": files["train"], "baseModel": spec.base_model}
        if "validation" in files:
            body["evaluationDataset"] = files["validation"]
        body |= {_FIELDS[k]: v for k, v in spec.params.items() if k in _FIELDS}
        job_id = self._job_id(token)
        data = self.http.call(
            "POST",
            "/supervisedFineTuningJobs",
            ok=(409,),
            json=body,
            params={"supervisedFineTuningJobId": job_id},
        )
        return _job(data) if data else self.get_job(job_id)

    def get_job(self, job_id: str) -> RemoteJob:
        return _job(self.http.call("GET", f"/supervisedFineTuningJobs/{_short(job_id)}"))

    def events(self, job_id: str, cursor: str | None) -> EventPage:
        return EventPage([], cursor)  # no event log: progress comes with the job

    def cancel_job(self, job_id: str) -> None:
        self.http.call("POST", f"/supervisedFineTuningJobs/{_short(job_id)}:cancel", json={})

    def transient(self, error: Exception) -> bool:
        return transient(error)


def _job(data: dict[str, Any]) -> RemoteJob:
    state = _STATES.get(str(data.get("state")))
    status: dict[str, Any] = data.get("status") or {}
    progress: dict[str, Any] = data.get("jobProgress") or {}
    details = {
        f"progress_{k}": v
        for k, v in progress.items()
        if k in ("percent", "epoch") and isinstance(v, int | float)
    }
    error = None
    if state == "failed":
        error = f"{status.get('code')}: {status.get('message')}" if status else str(data.get("state"))
    model = data.get("outputModel") if state == "succeeded" else None
    return RemoteJob(
        str(data["name"]).rsplit("/", 1)[-1], state, str(model) if model else None, error, details
    )


BACKEND = finetune_backend(HostedBackend("fireworks", PARAMS, FireworksFineTuning))
