"""In-memory Files and fine-tuning state behind :class:`kilngit.testing.fake_openai.FakeOpenAI`.

Kept free of HTTP: every method takes parsed request data and returns the JSON payload
(a dict) the OpenAI API would send, or raises :class:`ApiError`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JOB_STATUSES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


class ApiError(Exception):
    """An OpenAI-style error response: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, Any]:
        """The JSON body the API returns for this error."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _default_metrics() -> list[dict[str, Any]]:
    return [
        {"step": 1, "train_loss": 1.5, "train_mean_token_accuracy": 0.6},
        {"step": 2, "train_loss": 1.0, "train_mean_token_accuracy": 0.7},
        {"step": 3, "train_loss": 0.5, "train_mean_token_accuracy": 0.8},
    ]


@dataclass
class JobScript:
    """How one fine-tuning job behaves.

    The job is created in ``statuses[0]``; each ``jobs.retrieve`` advances it one step and
    it stays at the last status. ``metrics`` become ``type="metrics"`` events (their dicts
    are the event ``data``), spread over the ``running`` steps; the last ``checkpoints`` of
    them become checkpoints on success. ``error`` is used when the job reaches ``failed``.
    """

    statuses: list[str] = field(
        default_factory=lambda: ["validating_files", "queued", "running", "succeeded"]
    )
    fine_tuned_model: str | None = None
    """Model name on success; default ``ft:{model}:fake-org:{suffix}:{short id}``."""
    trained_tokens: int | None = 12345
    metrics: list[dict[str, Any]] = field(default_factory=_default_metrics)
    checkpoints: int = 3
    error: dict[str, Any] | None = None
    """``{"code", "message", "param"?}`` reported when the job fails."""

    def __post_init__(self) -> None:
        if not self.statuses:
            raise ValueError("JobScript.statuses must not be empty")
        bad = [s for s in self.statuses if s not in JOB_STATUSES]
        if bad:
            raise ValueError(f"unknown job status(es) {bad}; expected some of {JOB_STATUSES}")

    @classmethod
    def failing(
        cls, code: str = "invalid_training_file", message: str = "Training file failed validation.", **kw: Any
    ) -> JobScript:
        """A job that fails during validation with ``error={code, message}``."""
        kw.setdefault("statuses", ["validating_files", "failed"])
        return cls(error={"code": code, "message": message, "param": None}, **kw)


@dataclass
class StoredFile:
    """An uploaded (or generated result) file kept in memory."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Job:
    body: dict[str, Any]
    script: JobScript
    json: dict[str, Any]
    step: int = 0
    metrics_sent: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def _page(items: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """Cursor pagination as the API does it: ``after`` is the id of the last item already seen."""
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit") or 20)
    page = items[:limit]
    ends = {"first_id": page[0]["id"], "last_id": page[-1]["id"]} if page else {}
    return {"object": "list", "data": page, "has_more": len(items) > limit, **ends}


class FineTuningState:
    """Files and fine-tuning jobs of one fake server. Thread-safe."""

    def __init__(
        self, default_script: JobScript | Callable[[dict[str, Any]], JobScript] | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._default_script = default_script
        self._next_scripts: deque[JobScript] = deque()
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, _Job] = {}
        self.upload_count = 0

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def script_next(self, *scripts: JobScript) -> None:
        """Queue scripts for the next created jobs (before the default script applies)."""
        with self._lock:
            self._next_scripts.extend(scripts)

    def job_status(self, job_id: str) -> str:
        """Current status of a job without advancing it."""
        with self._lock:
            return self._job(job_id).json["status"]

    def succeeded_models(self) -> list[str]:
        """``fine_tuned_model`` names of jobs that succeeded."""
        with self._lock:
            return [j.json["fine_tuned_model"] for j in self.jobs.values() if j.json["status"] == "succeeded"]

    # -- files ----------------------------------------------------------------------------------

    def upload(self, fields: Mapping[str, tuple[str | None, bytes]]) -> dict[str, Any]:
        """``POST /files`` from parsed multipart fields ``name -> (filename, bytes)``."""
        if "file" not in fields:
            raise ApiError(
                400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
            )
        if "purpose" not in fields:
            raise ApiError(
                400,
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        filename, data = fields["file"]
        purpose = fields["purpose"][1].decode()
        with self._lock:
            stored = StoredFile(self._id("file"), filename or "upload", purpose, data, int(time.time()))
            self.files[stored.id] = stored
            self.upload_count += 1
            return stored.to_json()

    def list_files(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /files``, newest first, optionally of one ``purpose``."""
        with self._lock:
            files = [
                f.to_json()
                for f in reversed(self.files.values())
                if not query.get("purpose") or f.purpose == query["purpose"]
            ]
        return _page(files, query)

    def get_file(self, file_id: str) -> StoredFile:
        with self._lock:
            if file_id not in self.files:
                raise ApiError(404, f"No such File object: {file_id}", param="id", code="not_found")
            return self.files[file_id]

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /fine_tuning/jobs``."""
        model, training_file = body.get("model"), body.get("training_file")
        if not model:
            raise ApiError(
                400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
            )
        with self._lock:
            for param in ("training_file", "validation_file"):
                fid = body.get(param)
                if param == "training_file" or fid is not None:
                    stored = self.files.get(fid or "")
                    if stored is None or stored.purpose != "fine-tune":
                        raise ApiError(400, f"invalid {param}: {fid}", param=param, code=f"invalid_{param}")
            if self._next_scripts:
                script = self._next_scripts.popleft()
            elif callable(self._default_script):
                script = self._default_script(body)
            else:
                script = self._default_script or JobScript()
            method = body.get("method") or {"type": "supervised", "supervised": {}}
            hyper = dict(
                body.get("hyperparameters")
                or (method.get(method.get("type", "supervised")) or {}).get("hyperparameters")
                or {}
            )
            for key in ("batch_size", "learning_rate_multiplier", "n_epochs"):
                hyper.setdefault(key, "auto")
            job_id = self._id("ftjob")
            job = _Job(
                body=body,
                script=script,
                json={
                    "id": job_id,
                    "object": "fine_tuning.job",
                    "created_at": int(time.time()),
                    "error": None,
                    "fine_tuned_model": None,
                    "finished_at": None,
                    "hyperparameters": hyper,
                    "model": model,
                    "organization_id": "org-fake",
                    "result_files": [],
                    "seed": body.get("seed", 42),
                    "status": script.statuses[0],
                    "trained_tokens": None,
                    "training_file": training_file,
                    "validation_file": body.get("validation_file"),
                    "estimated_finish": None,
                    "integrations": [],
                    "metadata": body.get("metadata"),
                    "method": method,
                    "user_provided_suffix": body.get("suffix"),
                },
            )
            self.jobs[job_id] = job
            self._event(job, f"Created fine-tuning job: {job_id}")
            self._enter(job, script.statuses[0])
            return dict(job.json)

    def retrieve_job(self, job_id: str) -> dict[str, Any]:
        """``GET /fine_tuning/jobs/{id}``: advances the job one scripted step, then returns it."""
        with self._lock:
            job = self._job(job_id)
            if job.json["status"] not in TERMINAL_STATUSES and job.step + 1 < len(job.script.statuses):
                job.step += 1
                self._enter(job, job.script.statuses[job.step])
            return dict(job.json)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """``POST /fine_tuning/jobs/{id}/cancel``."""
        with self._lock:
            job = self._job(job_id)
            if job.json["status"] in TERMINAL_STATUSES:
                raise ApiError(400, f"Job {job_id} has already {job.json['status']}; it cannot be cancelled.")
            self._enter(job, "cancelled")
            return dict(job.json)

    def list_jobs(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /fine_tuning/jobs``, newest first."""
        with self._lock:
            return _page([dict(j.json) for j in reversed(self.jobs.values())], query)

    def list_events(self, job_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /fine_tuning/jobs/{id}/events``, newest first like the real API."""
        with self._lock:
            return _page(list(reversed(self._job(job_id).events)), query)

    def list_checkpoints(self, job_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /fine_tuning/jobs/{id}/checkpoints``, newest first."""
        with self._lock:
            return _page(list(reversed(self._job(job_id).checkpoints)), query)

    # -- internals (caller holds the lock) ------------------------------------------------------

    def _job(self, job_id: str) -> _Job:
        if job_id not in self.jobs:
            raise ApiError(
                404, f"Could not find fine-tuning job {job_id}.", param="fine_tuning_job_id", code="not_found"
            )
        return self.jobs[job_id]

    def _event(
        self, job: _Job, message: str, *, level: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        job.events.append(
            {
                "id": self._id("ftevent"),
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "data": data if data is not None else {},
                "type": "metrics" if data is not None else "message",
            }
        )

    def _emit_metrics(self, job: _Job, upto: int) -> None:
        for m in job.script.metrics[job.metrics_sent : upto]:
            self._event(job, f"Step {m.get('step')}: training loss={m.get('train_loss')}", data=dict(m))
        job.metrics_sent = max(job.metrics_sent, upto)

    def _enter(self, job: _Job, status: str) -> None:
        """Move ``job`` into ``status`` and record the events and fields that go with it."""
        previous, j, script = job.json["status"], job.json, job.script
        j["status"] = status
        if status == "validating_files":
            self._event(job, f"Validating training file: {j['training_file']}")
        elif status == "queued":
            self._event(job, "Files validated, moving job to queued state")
        elif status == "running":
            if previous != "running" or job.metrics_sent == 0:
                self._event(job, "Fine-tuning job started")
            # Spread the metrics evenly over the scripted "running" steps.
            n_running = max(1, script.statuses.count("running"))
            per_step = -(-len(script.metrics) // n_running)
            self._emit_metrics(job, job.metrics_sent + per_step)
        elif status == "succeeded":
            self._emit_metrics(job, len(script.metrics))
            suffix = j.get("user_provided_suffix") or ""
            j["fine_tuned_model"] = (
                script.fine_tuned_model or f"ft:{j['model']}:fake-org:{suffix}:{j['id'][-6:]}"
            )
            j["trained_tokens"] = script.trained_tokens
            j["finished_at"] = int(time.time())
            j["result_files"] = [self._result_file(job)]
            for m in script.metrics[-script.checkpoints :] if script.checkpoints > 0 else []:
                job.checkpoints.append(
                    {
                        "id": self._id("ftckpt"),
                        "object": "fine_tuning.job.checkpoint",
                        "created_at": int(time.time()),
                        "fine_tuned_model_checkpoint": f"{j['fine_tuned_model']}:ckpt-step-{m.get('step')}",
                        "fine_tuning_job_id": j["id"],
                        "metrics": dict(m),
                        "step_number": int(m.get("step") or 0),
                    }
                )
            self._event(job, f"New fine-tuned model created: {j['fine_tuned_model']}")
            self._event(job, "The job has successfully completed")
        elif status == "failed":
            error = {
                "param": None,
                **(script.error or {"code": "server_error", "message": "Fine-tuning failed."}),
            }
            j["error"] = error
            j["finished_at"] = int(time.time())
            self._event(job, f"Fine-tuning job failed: {error['message']}", level="error")
        elif status == "cancelled":
            j["finished_at"] = int(time.time())
            self._event(job, "Fine-tuning job cancelled")

    def _result_file(self, job: _Job) -> str:
        """A ``fine-tune-results`` CSV of the metrics, as the real API attaches on success."""
        keys = sorted({k for m in job.script.metrics for k in m}, key=lambda k: (k != "step", k))
        lines = [",".join(keys)] + [",".join(str(m.get(k, "")) for k in keys) for m in job.script.metrics]
        stored = StoredFile(
            self._id("file"),
            "step_metrics.csv",
            "fine-tune-results",
            ("\n".join(lines) + "\n").encode(),
            int(time.time()),
        )
        self.files[stored.id] = stored
        return stored.id
