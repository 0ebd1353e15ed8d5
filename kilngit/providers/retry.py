"""Kilngit's own retry loop and rate limiter, shared by every provider type.

The SDKs' retries are turned off so one policy holds everywhere: exponential backoff with jitter on rate
limits, server errors, timeouts and dropped connections; a server's Retry-After is honoured (and pauses the
whole provider, not just the request that saw it); an optional requests-per-minute limit spaces requests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from kilngit.providers.base import FailureReason, RequestFailed
from kilngit.providers.config import ProviderSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """An exception classified: why it failed, whether to retry, and how long the server asked us to wait."""

    reason: FailureReason
    message: str
    retryable: bool
    retry_after: float | None = None
    status: int | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry."""

    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0

    @classmethod
    def from_settings(cls, s: ProviderSettings) -> RetryPolicy:
        return cls(s.max_retries, s.backoff_base, s.backoff_max, s.max_retry_after)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): the server's Retry-After when given, else
        exponential backoff with "equal jitter" (half fixed, half random) so clients do not retry in lockstep."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class RateLimiter:
    """Spaces request starts to at most `rpm` per minute, and holds every request while the provider asked
    us to back off (Retry-After)."""

    def __init__(self, rpm: float | None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                continue
            if not self.interval:
                return
            async with self._lock:
                now = time.monotonic()
                start = max(now, self._next)
                self._next = start + self.interval
            if start > now:
                await asyncio.sleep(start - now)
            return

    def pause(self, seconds: float) -> None:
        """Hold every request of this provider for `seconds` from now."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    classify: Callable[[BaseException], Failure | None],
    policy: RetryPolicy,
    limiter: RateLimiter,
    what: str,
) -> T:
    """Run `call` until it succeeds, a failure is not retryable, or retries run out (then RequestFailed).

    `classify` maps an exception to a Failure, or None for exceptions that are bugs and must propagate."""
    attempt = 0
    while True:
        await limiter.acquire()
        try:
            return await call()
        except Exception as e:
            failure = classify(e)
            if failure is None:
                raise
        attempt += 1
        too_long = failure.retry_after is not None and failure.retry_after > policy.max_retry_after
        if not failure.retryable or attempt > policy.max_retries or too_long:
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            waited = f" (asked to wait {failure.retry_after:g}s, over the limit)" if too_long else ""
            raise RequestFailed(
                f"{what}: {failure.message}{tries}{waited}",
                failure.reason,
                _hint(failure.reason),
                attempts=attempt,
                status=failure.status,
            )
        wait = policy.delay(attempt, failure.retry_after)
        if failure.retry_after is not None:
            limiter.pause(wait)
        await asyncio.sleep(wait)


_HINTS: dict[str, str] = {
    "rate_limit": "lower --concurrency or set an rpm limit for this provider (see docs/providers.md)",
    "server_error": "the provider is failing; re-run later: finished runs are kept and skipped",
    "timeout": "raise the provider's timeout setting, or re-run later",
    "connection": "check that the endpoint is up and its base_url is right (kilngit never retries forever)",
    "malformed_response": "the endpoint answered with something that is not a chat completion; check base_url",
    "auth": "check that the API key environment variable named by api_key_env holds a valid key",
    "not_found": "check the model name and the provider's base_url",
    "bad_request": "the endpoint refused the request; check the run config's parameters",
}


def _hint(reason: str) -> str | None:
    return _HINTS.get(reason)
