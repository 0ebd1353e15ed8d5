"""The one batch engine for everything that calls a model or a judge: running a task over inputs, judging an
eval, generating inputs.

* `Tally` counts what a batch (or one judge of it) did: planned, already done (skipped), done, recorded
  failures and not-recorded ones (provider failures after retries: nothing written, the next run retries).
* `Outcome` is how a batch ended: interrupted, stopped by a failure every further request would repeat
  (`fatal`), how long it took. `Outcome.check()` turns it into the library errors the CLI maps to exit codes in
  one place (`Interrupted` 130, the fatal `ProviderError` 1, `WorkLeft` 1); each summary adds its own "work
  left" rule.
* `run_batch` runs `work(item)` over items with bounded concurrency and one progress bar; a `RequestFailed`
  is counted as not recorded and a fatal one stops the batch.
* `run_sync` runs a batch from synchronous code with one Ctrl-C policy: what is in flight is cancelled, what
  finished is kept, and the outcome says `interrupted`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kilngit.errors import Interrupted, WorkLeft
from kilngit.providers.base import RequestFailed
from kilngit.runner.progress import progress_bar

T = TypeVar("T")
OutcomeT = TypeVar("OutcomeT", bound="Outcome")


@dataclass(kw_only=True)
class Tally:
    """What a batch, or one judge within it, did."""

    planned: int = 0
    skipped: int = 0
    """Already done before: not asked again."""
    done: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    """Failures that were recorded (failed runs, error results), by kind."""
    not_recorded: Counter[str] = field(default_factory=Counter)
    """Provider failures after retries (nothing written; a re-run retries them), by reason."""
    examples: dict[str, list[str]] = field(default_factory=dict)
    """A few example messages per failure kind."""

    def note(self, counter: Counter[str], key: str, message: str) -> None:
        counter[key] += 1
        seen = self.examples.setdefault(key, [])
        if len(seen) < 3 and message not in seen:
            seen.append(message)


@dataclass(kw_only=True)
class Outcome:
    """How a batch ended."""

    interrupted: bool = False
    fatal: RequestFailed | None = None
    """The failure that stopped the batch early, if any."""
    seconds: float = 0.0

    def check(self) -> None:
        """Raise what the CLI turns into an exit code: `Interrupted`, then the fatal failure, then `WorkLeft`
        (from `work_left`)."""
        if self.interrupted:
            raise Interrupted("interrupted: finished work is kept", "run the same command again to resume")
        if self.fatal:
            raise self.fatal
        left = self.work_left()
        if left:
            raise WorkLeft(left, "run the same command again: finished work is skipped, the rest retried")

    def work_left(self) -> str | None:
        """What could not be done, said for people, or None when nothing is left."""
        return None


async def run_batch(
    items: Sequence[T],
    work: Callable[[T], Awaitable[None]],
    *,
    outcome: Outcome,
    tally: Callable[[T], Tally],
    concurrency: int,
    label: str,
    progress: bool | None,
) -> None:
    """Do `work(item)` for every item, `concurrency` at a time, in order, with a progress bar.

    A `RequestFailed` from `work` is counted as not recorded in `tally(item)`; a fatal one is kept as
    `outcome.fatal` and no further item is started. Any other error stops the other workers and propagates."""
    if not items:
        return
    pending = iter(items)
    stop = asyncio.Event()
    with progress_bar(label, len(items), progress) as advance:

        async def worker() -> None:
            for item in pending:
                if stop.is_set():
                    return
                try:
                    await work(item)
                except RequestFailed as e:
                    tally(item).note(tally(item).not_recorded, e.reason, e.message)
                    if e.fatal:
                        outcome.fatal = e
                        stop.set()
                advance(1)

        await run_workers([worker() for _ in range(min(concurrency, len(items)))])


async def run_workers(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run worker coroutines together; on an error in one, or on cancellation, stop the others and wait for
    them before returning (or raising)."""
    workers = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def run_sync(batch: Coroutine[Any, Any, OutcomeT], outcome: OutcomeT) -> OutcomeT:
    """Run a batch coroutine that fills `outcome` (and returns it) from synchronous code. Ctrl-C cancels
    what is in flight and returns `outcome` marked interrupted; everything finished is already on disk."""
    try:
        return asyncio.run(batch)
    except KeyboardInterrupt:
        outcome.interrupted = True
        return outcome
