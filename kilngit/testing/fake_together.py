"""A loopback fake of Together's fine-tuning REST API, plus its OpenAI-compatible chat completions.

    with FakeTogether() as tg:         # tg.base_url for the `together` provider
        ...

Routes (under `/v1`): files list / upload (multipart: file, file_name, purpose, file_type), fine-tunes
create / list / get / events / cancel, as Together documents them; `/v1/chat/completions` answers like
FakeOpenAI. Each GET of a job advances it one scripted status; a `running` step logs an event with its
`step`. Faults and latency work as in FakeOpenAI.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from typing import Any
from urllib.parse import unquote

from kilngit.testing.fake_openai import FakeOpenAI, _json, _Response
from kilngit.testing.fake_openai_finetune import ApiError

DEFAULT_STATUSES = ["pending", "queued", "running", "running", "uploading", "completed"]
_TERMINAL = ("completed", "cancelled", "error", "user_error")
_ROUTES = [
    ("POST", "chat.completions", r"/v1/chat/completions"),
    ("GET", "files.list", r"/v1/files"),
    ("POST", "files.upload", r"/v1/files/upload"),
    ("POST", "fine_tunes.create", r"/v1/fine-tunes"),
    ("GET", "fine_tunes.list", r"/v1/fine-tunes"),
    ("GET", "fine_tunes.get", r"/v1/fine-tunes/(?P<id>[^/]+)"),
    ("GET", "fine_tunes.events", r"/v1/fine-tunes/(?P<id>[^/]+)/events"),
    ("POST", "fine_tunes.cancel", r"/v1/fine-tunes/(?P<id>[^/]+)/cancel"),
]
_COMPILED = [(m, n, re.compile(p + r"/?")) for m, n, p in _ROUTES]


class FakeTogether(FakeOpenAI):
    """Together on 127.0.0.1; `script_next_statuses([...])` sets the statuses of the next job created."""

    multipart_routes = ("files.upload",)

    def __init__(self, user: str = "kilngit-tester", **kwargs: Any) -> None:
        kwargs.setdefault("fault_paths", ("/v1/files", "/v1/fine-tunes"))
        super().__init__(**kwargs)
        self.user = user
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.uploads = 0
        self._scripts: dict[str, list[str]] = {}
        self._next: list[list[str]] = []
        self._tg_lock = threading.Lock()
        self._tg_ids = itertools.count(1)

    def script_next_statuses(self, *statuses: list[str]) -> None:
        with self._tg_lock:
            self._next.extend(statuses)

    def job_status(self, job_id: str) -> str:
        with self._tg_lock:
            return str(self.jobs[job_id]["status"])

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:  # type: ignore[override]
        for route_method, name, pattern in _COMPILED:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
        raise ApiError(404, f"Invalid URL ({method} {path})", code="unknown_url")

    def _handle(
        self, route: str, params: dict[str, str], body: Any, fields: Any, query: dict[str, str], fault: Any
    ) -> _Response:
        if route == "chat.completions":
            return self._chat(body, fault)
        with self._tg_lock:
            return _json(self._together(route, params.get("id", ""), body, fields))

    def _together(self, route: str, rid: str, body: Any, fields: Any) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if route == "files.list":
            return {"object": "list", "data": [dict(f) for f in self.files.values()]}
        if route == "files.upload":
            missing = [k for k in ("file", "file_name", "purpose") if k not in fields]
            if missing:
                raise ApiError(400, f"missing form field(s): {', '.join(missing)}")
            fid = f"file-{next(self._tg_ids):06d}"
            data = fields["file"][1]
            self.files[fid] = {
                "id": fid,
                "object": "file",
                "created_at": int(time.time()),
                "filename": fields["file_name"][1].decode(),
                "bytes": len(data),
                "purpose": fields["purpose"][1].decode(),
                "Processed": True,
                "FileType": "jsonl",
                "LineCount": data.count(b"\n"),
            }
            self.uploads += 1
            return dict(self.files[fid])
        if route == "fine_tunes.create":
            body = body or {}
            for key in ("training_file", "validation_file"):
                if (key == "training_file" or body.get(key)) and body.get(key) not in self.files:
                    raise ApiError(400, f"{key} {body.get(key)!r} is not an uploaded file")
            if not body.get("model"):
                raise ApiError(400, "model is required")
            jid = f"ft-{next(self._tg_ids):06d}"
            statuses = self._next.pop(0) if self._next else list(DEFAULT_STATUSES)
            suffix = body.get("suffix") or ""
            self._scripts[jid] = statuses
            self.jobs[jid] = {
                **body,
                "id": jid,
                "status": statuses[0],
                "created_at": now,
                "updated_at": now,
                "output_name": f"{self.user}/{body['model'].rsplit('/', 1)[-1]}-{suffix}-{jid[-6:]}",
                "events": [
                    {
                        "object": "fine-tune-event",
                        "created_at": now,
                        "type": "job_pending",
                        "message": "Fine tune request created",
                        "level": "Info",
                    }
                ],
                "_step": 0,
            }
            return self._public(jid)
        if route == "fine_tunes.list":
            return {"data": [self._public(j) for j in self.jobs]}
        if rid not in self.jobs:
            raise ApiError(404, f"fine-tune job {rid} not found")
        job = self.jobs[rid]
        if route == "fine_tunes.events":
            return {"data": list(job["events"])}
        if route == "fine_tunes.cancel":
            if job["status"] in _TERMINAL:
                raise ApiError(400, f"job {rid} is already {job['status']}")
            job["status"] = "cancelled"
            return self._public(rid)
        script = self._scripts[rid]
        if job["status"] not in _TERMINAL and job["_step"] + 1 < len(script):  # fine_tunes.get advances it
            job["_step"] += 1
            job["status"] = script[job["_step"]]
            event: dict[str, Any] = {
                "object": "fine-tune-event",
                "created_at": now,
                "level": "Info",
                "type": job["status"],
                "message": f"Job is {job['status']}",
            }
            if job["status"] == "running":
                event |= {"step": 10 * job["_step"], "total_steps": 10 * len(script), "token_count": 1000}
            job["events"].append(event)
            if job["status"] == "completed":
                self.models.append(job["output_name"])
        return self._public(rid)

    def _public(self, jid: str) -> dict[str, Any]:
        return {k: v for k, v in self.jobs[jid].items() if not k.startswith("_")}


if __name__ == "__main__":
    from kilngit.testing.demo import serve_from_command_line

    raise SystemExit(
        serve_from_command_line(
            "fake_together",
            lambda port: FakeTogether(port=port),
            lambda s: [f"KILNGIT_PROVIDER_TOGETHER_BASE_URL={s.base_url}", "TOGETHER_API_KEY=demo"],
        )
    )
