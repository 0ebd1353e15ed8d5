"""A small JSON-over-HTTP client for hosted fine-tuning APIs without an SDK kilngit depends on."""

from __future__ import annotations

import os
from typing import Any

import httpx

from kilngit.errors import ProviderError
from kilngit.providers.config import provider_settings


def api_key(provider: str, backend: str) -> tuple[str, float]:
    """The provider's API key from its environment variable (and its timeout), or the error saying how to set
    it."""
    settings = provider_settings(provider)
    env = settings.api_key_env
    if not env:
        return "not-needed", settings.timeout  # a local server configured without a key
    key = os.environ.get(env, "").strip()
    if not key:
        raise ProviderError(
            f"fine-tuning with {backend} needs an API key in ${env}, which is not set",
            f"export {env}=... (kilngit never stores keys)",
        )
    return key, settings.timeout


class JsonClient:
    """Bearer-authenticated requests to `base`; `call` returns the JSON body or raises httpx's errors."""

    def __init__(self, base: str, key: str, timeout: float) -> None:
        self.secret = key
        self._http = httpx.Client(
            base_url=base.rstrip("/"), timeout=timeout, headers={"Authorization": f"Bearer {key}"}
        )

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """The decoded JSON answer; None for a status in `ok` that is an error (e.g. 404 when looking)."""
        response = self._http.request(method, path, **kwargs)
        if response.status_code in ok and response.is_error:
            return None
        response.raise_for_status()
        return response.json() if response.content else {}


def transient(error: Exception) -> bool:
    """Connection failures, timeouts, 408, 429 and 5xx: worth trying again."""
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, httpx.HTTPStatusError) and (
        error.response.status_code >= 500 or error.response.status_code in (408, 429)
    )
