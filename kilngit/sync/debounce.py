"""Gathering file events into batches: a batch is ready once the tree has been quiet for a short window, or
when the first event of the batch has waited the maximum time (a steady stream of writes still commits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    """Paths (or folders) that saw events; `paths` None means "look at everything" (after an overflow)."""

    paths: list[str] | None

    @property
    def rescan(self) -> bool:
        return self.paths is None


class Debouncer:
    """Thread-safe: the watcher thread adds, the main loop waits and takes."""

    def __init__(
        self, quiet_s: float, max_wait_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.quiet_s = quiet_s
        self.max_wait_s = max(max_wait_s, quiet_s)
        self._clock = clock
        self._cond = threading.Condition()
        self._paths: set[str] = set()
        self._rescan = False
        self._first: float | None = None
        self._last = 0.0

    def add(self, paths: Iterable[str]) -> None:
        """Note events on `paths` (relative to the project root)."""
        paths = list(paths)
        if not paths:
            return
        with self._cond:
            self._paths.update(paths)
            self._touch()  # a path written again also restarts the quiet window

    def rescan(self) -> None:
        """Events were lost (the kernel queue overflowed): the next batch looks at the whole project."""
        with self._cond:
            self._rescan = True
            self._touch()

    def _touch(self) -> None:
        now = self._clock()
        if self._first is None:
            self._first = now
        self._last = now
        self._cond.notify_all()

    @property
    def pending(self) -> int:
        """How many paths are waiting (the whole project counts as one)."""
        with self._cond:
            return len(self._paths) + self._rescan

    def due_in(self) -> float | None:
        """Seconds until the current batch is ready (0 when it is), None when nothing is pending."""
        with self._cond:
            return self._due_in()

    def _due_in(self) -> float | None:
        if self._first is None:
            return None
        ready_at = min(self._last + self.quiet_s, self._first + self.max_wait_s)
        return max(0.0, ready_at - self._clock())

    def wait(self, timeout: float) -> bool:
        """Block until a batch is ready or `timeout` passes; True when a batch is ready."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                due = self._due_in()
                if due == 0.0:
                    return True
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, due) if due is not None else left)

    def take(self, force: bool = False) -> Batch | None:
        """The ready batch (or whatever is pending, with `force`), emptied; None when there is none."""
        with self._cond:
            if self._first is None or (not force and self._due_in() != 0.0):
                return None
            batch = Batch(None if self._rescan else sorted(self._paths))
            self._paths.clear()
            self._rescan = False
            self._first = None
            return batch
