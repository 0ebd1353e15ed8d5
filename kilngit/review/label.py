"""The labeling queue, without any terminal I/O: which runs to label, moving through them, saving each
rating at once, skipping, and undoing.

    store = RaterStore(project, "ffmpeg", "alice@example.com")
    queue = LabelQueue(queue_runs(project, "ffmpeg", "alice@example.com"), store)
    queue.rate(RatingChange(overall=parse_overall("pass")))   # saved now, moves to the next run
    queue.undo()                                               # restores the file, moves back

Every change is written (atomically) when it is made, so quitting at any moment keeps everything given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kilngit.project import Project
from kilngit.records import Annotation, TaskRun
from kilngit.review.rating import RatingChange, apply_change, load_own_annotation, save_annotation
from kilngit.state import RunState


def queue_runs(
    project: Project, task: str, rater: str, filter_text: str | None = None, disputed: bool = False
) -> list[str]:
    """IDs of the runs to label, in ID order: runs with an output, matching `filter_text`, that this rater
    has not rated yet; with `disputed`, the disputed ones instead (rated by this rater or not)."""
    chosen = project.select(task, filter_text or "all")
    return [s.id for s in chosen if in_queue(s, rater, disputed)]


def in_queue(state: RunState, rater: str, disputed: bool = False) -> bool:
    """Whether a run belongs in the rater's queue: it has an output and this rater has not rated it (with
    `disputed`: its raters disagree)."""
    if state.run.output is None:
        return False
    if disputed:
        return state.disputed
    mine = state.annotation_by(rater)
    return mine is None or not (mine.rating or mine.requirements)


@dataclass
class RaterStore:
    """One rater's annotations of one task's runs, read and written through the rating library."""

    project: Project
    task: str
    rater: str

    def run(self, run_id: str) -> TaskRun:
        return self.project.runs(self.task)[run_id]

    def state(self, run_id: str) -> RunState:
        return self.project.states(self.task)[run_id]

    def load(self, run_id: str) -> Annotation | None:
        return load_own_annotation(self.project, self.task, self.rater, run_id)

    def save(self, run_id: str, annotation: Annotation | None) -> None:
        save_annotation(self.project, self.task, self.rater, run_id, annotation)

    def apply(
        self,
        run_id: str,
        change: RatingChange,
        existing: Annotation | None,
        seconds_on_item: float | None = None,
    ) -> Annotation:
        return apply_change(
            self.project, self.run(run_id), self.rater, change, existing, seconds_on_item=seconds_on_item
        )


@dataclass(frozen=True)
class Step:
    """One thing done in the queue, kept so it can be undone."""

    index: int
    """Position of the run in the queue."""
    run_id: str
    before: Annotation | None
    after: Annotation | None
    saved: bool
    """False for a skip."""
    advanced: bool


@dataclass
class LabelQueue:
    """A list of runs to label and where the rater is in it."""

    run_ids: list[str]
    store: RaterStore
    position: int = 0
    history: list[Step] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    """Where on-screen time is read from (a steady clock; tests pass their own)."""
    _shown: tuple[int, float] | None = field(default=None, init=False, repr=False)

    def shown(self) -> None:
        """Say that the current run is now on screen: its `seconds_on_item` counts from here."""
        self._shown = (self.position, self.clock())

    def seconds_on_item(self) -> float | None:
        """Seconds the current run has been on screen, or None when it was never reported shown."""
        if self._shown is None or self._shown[0] != self.position:
            return None
        return self.clock() - self._shown[1]

    @property
    def current(self) -> str | None:
        """The run being labeled, or None when the queue is finished."""
        return self.run_ids[self.position] if self.position < len(self.run_ids) else None

    @property
    def finished(self) -> bool:
        return self.position >= len(self.run_ids)

    @property
    def rated(self) -> int:
        """How many runs got a change saved (and not undone)."""
        return len({s.run_id for s in self.history if s.saved})

    @property
    def skipped(self) -> int:
        return sum(1 for s in self.history if not s.saved)

    def rate(self, change: RatingChange, advance: bool = True) -> Annotation:
        """Apply `change` to the current run, save it now, and (by default) move to the next run."""
        run_id = self._require_current()
        before = self.store.load(run_id)
        after = self.store.apply(run_id, change, before, self.seconds_on_item())
        self.store.save(run_id, after)
        self.history.append(Step(self.position, run_id, before, after, True, advance))
        if advance:
            self.position += 1
        return after

    def skip(self) -> None:
        """Leave the current run as it is and move on."""
        run_id = self._require_current()
        self.history.append(Step(self.position, run_id, None, None, False, True))
        self.position += 1

    def undo(self) -> Step | None:
        """Undo the last step: restore the annotation as it was before it and go back to that run.
        Returns the undone step, or None when there is nothing to undo."""
        if not self.history:
            return None
        step = self.history.pop()
        if step.saved:
            self.store.save(step.run_id, step.before)
        self.position = step.index
        return step

    def _require_current(self) -> str:
        run_id = self.current
        if run_id is None:
            raise IndexError("the queue is finished")
        return run_id
