"""The Batch API of the fake OpenAI server: batches over uploaded JSONL files, answered line by line.

A batch moves one step per `GET /v1/batches/{id}` (validating -> in_progress -> completed; after a cancel,
cancelling -> cancelled), so a test decides when it finishes by polling, never by waiting. On completion each
input line is answered as the chat endpoint would answer it; lines for which `fail_fn(body)` returns a message
go to the error file instead; `expire_fn(batch)` makes a batch expire instead of completing (no answers), and
a cancelled batch has none either. Lists are paged (`after`, `limit` up to 100, `has_more`), and an input file
over `max_bytes` is refused as the API refuses one over 200 MB. `submitted[custom_id]` counts how often each
request was part of a created batch.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from kilngit.testing.fake_openai_finetune import ApiError, FineTuningState, StoredFile, _page

STEPS = ("validating", "in_progress", "completed")


class BatchState:
    """Batches of one fake server (files are shared with fine-tuning). Thread-safe."""

    def __init__(
        self,
        files: FineTuningState,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        fail_fn: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._files = files
        self._answer = answer
        self.fail_fn = fail_fn
        self.expire_fn: Callable[[dict[str, Any]], bool] | None = None
        self.max_bytes = 200_000_000
        self.batches: dict[str, dict[str, Any]] = {}
        self.submitted: Counter[str] = Counter()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/batches`."""
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                raise ApiError(400, f"Missing required parameter: '{name}'.", param=name)
        if body["endpoint"] != "/v1/chat/completions" or body["completion_window"] != "24h":
            raise ApiError(400, "Unsupported endpoint or completion_window.")
        stored = self._files.get_file(body["input_file_id"])
        if len(stored.data) > self.max_bytes:
            raise ApiError(400, f"The input file is larger than the maximum of {self.max_bytes} bytes.")
        lines = self._lines(stored)
        with self._lock:
            batch_id = f"batch_{next(self._ids):06d}"
            self.submitted.update(line["custom_id"] for line in lines)
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": "24h",
                "status": STEPS[0],
                "output_file_id": None,
                "error_file_id": None,
                "created_at": int(time.time()),
                "metadata": body.get("metadata") or {},
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
            return dict(self.batches[batch_id])

    def get(self, batch_id: str) -> dict[str, Any]:
        """`GET /v1/batches/{id}`: advances the batch one step."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch["status"] == "cancelling":
                batch["status"] = "cancelled"
            elif batch["status"] in STEPS[:-1]:
                batch["status"] = STEPS[STEPS.index(batch["status"]) + 1]
                if batch["status"] == "completed":
                    if self.expire_fn and self.expire_fn(batch):
                        batch["status"] = "expired"
                    else:
                        self._complete(batch)
            return dict(batch)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """`POST /v1/batches/{id}/cancel`: cancelling now, cancelled at the next GET."""
        with self._lock:
            batch = self._batch(batch_id)
            if batch["status"] in ("completed", "failed", "expired", "cancelled"):
                raise ApiError(409, f"Cannot cancel a batch with status {batch['status']}.")
            batch["status"] = "cancelling"
            return dict(batch)

    def list_batches(self, query: Mapping[str, str]) -> dict[str, Any]:
        """`GET /v1/batches`, newest first, paged (`limit` 1 to 100, default 20)."""
        limit = min(max(int(query.get("limit") or 20), 1), 100)
        with self._lock:
            batches = [dict(b) for b in reversed(self.batches.values())]
        return _page(batches, {**query, "limit": str(limit)})

    def _batch(self, batch_id: str) -> dict[str, Any]:
        if batch_id not in self.batches:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", code="not_found")
        return self.batches[batch_id]

    @staticmethod
    def _lines(stored: StoredFile) -> list[dict[str, Any]]:
        try:
            lines = [json.loads(line) for line in stored.data.splitlines() if line.strip()]
        except ValueError:
            raise ApiError(400, "The input file is not valid JSONL.") from None
        if len({line.get("custom_id") for line in lines}) != len(lines):
            raise ApiError(400, "custom_id values must be unique within a batch.")
        return lines

    def _complete(self, batch: dict[str, Any]) -> None:
        out: list[str] = []
        errors: list[str] = []
        for n, line in enumerate(self._lines(self._files.get_file(batch["input_file_id"]))):
            rid = f"batch_req_{batch['id']}_{n}"
            failure = self.fail_fn(line["body"]) if self.fail_fn else None
            if failure is None:
                try:
                    body, status = self._answer(line["body"]), 200
                except ApiError as e:
                    body, status = e.payload(), e.status
            else:
                body, status = {"error": {"message": failure, "type": "server_error"}}, 500
            entry = {
                "id": rid,
                "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": rid, "body": body},
                "error": None,
            }
            (out if status == 200 else errors).append(json.dumps(entry))
        counts = batch["request_counts"]
        counts["completed"], counts["failed"] = len(out), len(errors)
        batch["output_file_id"] = self._store(f"{batch['id']}_output.jsonl", out) if out else None
        batch["error_file_id"] = self._store(f"{batch['id']}_error.jsonl", errors) if errors else None
        batch["completed_at"] = int(time.time())

    def _store(self, name: str, lines: list[str]) -> str:
        files = self._files
        with files._lock:
            stored = StoredFile(
                files._id("file"), name, "batch_output", ("\n".join(lines) + "\n").encode(), int(time.time())
            )
            files.files[stored.id] = stored
        return stored.id
