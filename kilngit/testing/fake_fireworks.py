"""A loopback fake of Fireworks' fine-tuning REST API, plus its OpenAI-compatible inference route.

    with FakeFireworks() as fw:        # account "acct"; base URL fw.inference_url for the `fireworks` provider
        ...
    fw.uploads, fw.jobs                # what was uploaded and created

Routes (under `/v1/accounts/{account}`): datasets create / get / `:upload`, supervisedFineTuningJobs
create (with `supervisedFineTuningJobId`) / get / list / `:cancel`, as Fireworks documents them; chat
completions at `/inference/v1/chat/completions`. Each GET of a job advances it one scripted state. Errors
have Fireworks' status codes (404 missing, 409 already exists); faults and latency work as in FakeOpenAI.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from kilngit.testing.fake_openai import FakeOpenAI, _json, _Response
from kilngit.testing.fake_openai_finetune import ApiError

DEFAULT_STATES = ["JOB_STATE_CREATING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_COMPLETED"]
_TERMINAL = ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EARLY_STOPPED")
_ACCOUNT = r"/v1/accounts/(?P<account>[^/]+)"
_ROUTES = [
    ("POST", "chat.completions", r"/inference/v1/chat/completions"),
    ("POST", "datasets.create", _ACCOUNT + r"/datasets"),
    ("GET", "datasets.get", _ACCOUNT + r"/datasets/(?P<id>[^/:]+)"),
    ("POST", "datasets.upload", _ACCOUNT + r"/datasets/(?P<id>[^/:]+):upload"),
    ("POST", "sftj.create", _ACCOUNT + r"/supervisedFineTuningJobs"),
    ("GET", "sftj.list", _ACCOUNT + r"/supervisedFineTuningJobs"),
    ("GET", "sftj.get", _ACCOUNT + r"/supervisedFineTuningJobs/(?P<id>[^/:]+)"),
    ("POST", "sftj.cancel", _ACCOUNT + r"/supervisedFineTuningJobs/(?P<id>[^/:]+):cancel"),
]
_COMPILED = [(m, n, re.compile(p + r"/?")) for m, n, p in _ROUTES]


@dataclass
class _Job:
    json: dict[str, Any]
    states: list[str]
    step: int = 0


@dataclass
class FireworksState:
    """Datasets and jobs of one fake server."""

    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, _Job] = field(default_factory=dict)
    uploads: int = 0
    next_states: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeFireworks(FakeOpenAI):
    """Fireworks on 127.0.0.1; `script_next_states([...])` sets the states of the next job created."""

    multipart_routes = ("datasets.upload",)

    def __init__(self, account: str = "acct", **kwargs: Any) -> None:
        kwargs.setdefault("fault_paths", ("/v1/accounts/",))
        super().__init__(**kwargs)
        self.account = account
        self.fw = FireworksState()

    @property
    def inference_url(self) -> str:
        """The base URL of the `fireworks` provider (`.../inference/v1`)."""
        return self.url + "/inference/v1"

    def script_next_states(self, *states: list[str]) -> None:
        with self.fw.lock:
            self.fw.next_states.extend(states)

    def job_state(self, job_id: str) -> str:
        with self.fw.lock:
            return str(self.fw.jobs[job_id].json["state"])

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:  # type: ignore[override]
        for route_method, name, pattern in _COMPILED:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                params = {k: unquote(v) for k, v in m.groupdict().items()}
                if params.get("account", self.account) != self.account:
                    raise ApiError(403, f"no access to account {params['account']}")
                return name, params
        raise ApiError(404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _handle(
        self, route: str, params: dict[str, str], body: Any, fields: Any, query: dict[str, str], fault: Any
    ) -> _Response:
        if route == "chat.completions":
            return self._chat(body, fault)
        with self.fw.lock:
            return _json(self._fireworks(route, params.get("id", ""), body, fields, query))

    def _name(self, kind: str, rid: str) -> str:
        return f"accounts/{self.account}/{kind}/{rid}"

    def _fireworks(
        self, route: str, rid: str, body: Any, fields: Any, query: dict[str, str]
    ) -> dict[str, Any]:
        fw = self.fw
        if route == "datasets.create":
            rid = str((body or {}).get("datasetId") or "")
            if not rid:
                raise ApiError(400, "datasetId is required")
            if rid in fw.datasets:
                raise ApiError(409, f"dataset {rid} already exists")
            fw.datasets[rid] = {
                "name": self._name("datasets", rid),
                "state": "UPLOADING",
                "exampleCount": (body.get("dataset") or {}).get("exampleCount"),
                "data": None,
            }
            return _public(fw.datasets[rid])
        if route in ("datasets.get", "datasets.upload"):
            if rid not in fw.datasets:
                raise ApiError(404, f"dataset {rid} not found")
            if route == "datasets.upload":
                if "file" not in fields:
                    raise ApiError(400, "missing file")
                fw.datasets[rid] |= {"data": fields["file"][1], "state": "READY"}
                fw.uploads += 1
            return _public(fw.datasets[rid])
        if route == "sftj.create":
            rid = query.get("supervisedFineTuningJobId") or f"job{len(fw.jobs) + 1:04d}"
            if rid in fw.jobs:
                raise ApiError(409, f"supervised fine-tuning job {rid} already exists")
            dataset = str((body or {}).get("dataset") or "").rsplit("/", 1)[-1]
            if fw.datasets.get(dataset, {}).get("state") != "READY" or not body.get("baseModel"):
                raise ApiError(
                    400, f"dataset {body.get('dataset')!r} is not a READY dataset, or no baseModel"
                )
            states = fw.next_states.pop(0) if fw.next_states else list(DEFAULT_STATES)
            created = {
                **body,
                "name": self._name("supervisedFineTuningJobs", rid),
                "state": states[0],
                "createTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "status": {"code": "OK", "message": ""},
                "jobProgress": {"percent": 0, "epoch": 0},
            }
            fw.jobs[rid] = _Job(created, states)
            return dict(created)
        if route == "sftj.list":
            return {
                "supervisedFineTuningJobs": [dict(j.json) for j in fw.jobs.values()],
                "totalSize": len(fw.jobs),
            }
        if rid not in fw.jobs:
            raise ApiError(404, f"supervised fine-tuning job {rid} not found")
        job = fw.jobs[rid]
        if route == "sftj.cancel":
            if job.json["state"] in _TERMINAL:
                raise ApiError(400, f"job {rid} is already {job.json['state']}")
            job.json["state"] = "JOB_STATE_CANCELLED"
            return {}
        if job.json["state"] not in _TERMINAL and job.step + 1 < len(job.states):  # sftj.get advances the job
            job.step += 1
            self._enter(job, job.states[job.step])
        return dict(job.json)

    def _enter(self, job: _Job, state: str) -> None:
        j = job.json
        j["state"] = state
        j["jobProgress"] = {"percent": round(100 * job.step / max(1, len(job.states) - 1)), "epoch": job.step}
        if state == "JOB_STATE_COMPLETED":
            j["outputModel"] = j.get("outputModel") or self._name(
                "models", f"ft-{j['name'].rsplit('/', 1)[-1]}"
            )
            j["completedTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.models.append(j["outputModel"])
        if state == "JOB_STATE_FAILED":
            j["status"] = {"code": "INVALID_ARGUMENT", "message": "Training data failed validation."}


def _public(dataset: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dataset.items() if k != "data"}


if __name__ == "__main__":
    from kilngit.testing.demo import serve_from_command_line

    raise SystemExit(
        serve_from_command_line(
            "fake_fireworks",
            lambda port: FakeFireworks(port=port),
            lambda s: [
                f"KILNGIT_PROVIDER_FIREWORKS_BASE_URL={s.inference_url}",
                "FIREWORKS_API_KEY=demo",
                "FIREWORKS_ACCOUNT_ID=acct",
            ],
        )
    )
