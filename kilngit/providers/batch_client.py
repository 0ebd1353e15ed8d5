"""The wire calls of a Batch API: files and batches of an OpenAI-compatible endpoint (`/v1/files`,
`/v1/batches`), keys from the environment.

Lists are paged as the API pages them (`after` = the last ID seen, until `has_more` is false), so a lookup
finds a file or batch however many others the account holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from kilngit.errors import ProviderError
from kilngit.providers.config import ProviderSettings

META_KEY = "kilngit_job"
"""The batch metadata key holding the job's token (a re-run that lost the create's answer finds it by it)."""
BATCH_PAGE = 100  # the API's largest page of batches
FILE_PAGE = 10_000  # ... and of files


class BatchAPI:
    """Files and batches of one provider's endpoint."""

    def __init__(self, settings: ProviderSettings) -> None:
        import httpx

        if not settings.base_url:
            raise ProviderError(f"provider {settings.name!r} has no base_url", "see docs/providers.md")
        env = settings.api_key_env
        key = os.environ.get(env, "").strip() if env else "not-needed"
        if not key:
            raise ProviderError(
                f"batches on provider {settings.name!r} need an API key in ${env}, which is not set",
                f"export {env}=... (kilngit never stores keys)",
            )
        self.secret = key
        self._http = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            headers={"Authorization": f"Bearer {key}"},
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, page after page."""
        after: str | None = None
        while True:
            page = self._call("GET", path, params={**params, **({"after": after} if after else {})}).json()
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = page.get("last_id") or data[-1]["id"]

    def find_file(self, filename: str) -> str | None:
        """The ID of the batch input file named `filename`, if one was uploaded."""
        files = self._pages("/files", {"purpose": "batch", "limit": FILE_PAGE})
        return next((f["id"] for f in files if f.get("filename") == filename), None)

    def upload(self, filename: str, data: bytes) -> str:
        files = {"file": (filename, data, "application/jsonl")}
        return str(self._call("POST", "/files", files=files, data={"purpose": "batch"}).json()["id"])

    def find_batch(self, token: str) -> dict[str, Any] | None:
        """The batch carrying `token` in its metadata, searched newest first through every page."""
        batches = self._pages("/batches", {"limit": BATCH_PAGE})
        return next((b for b in batches if (b.get("metadata") or {}).get(META_KEY) == token), None)

    def create(self, file_id: str, token: str) -> dict[str, Any]:
        body = {
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {META_KEY: token},
        }
        return dict(self._call("POST", "/batches", json=body).json())

    def get(self, batch_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/batches/{batch_id}").json())

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """Ask the provider to stop a batch: it is `cancelling` for a while, then `cancelled`, with the
        answers it made by then in its output file."""
        return dict(self._call("POST", f"/batches/{batch_id}/cancel").json())

    def content(self, file_id: str) -> bytes:
        return bytes(self._call("GET", f"/files/{file_id}/content").content)
