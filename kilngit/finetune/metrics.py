"""Per-step training metrics, written as the steps happen.

Steps are kept 100 to a file (`finetunes/<name>/metrics/<first step>.json`), so a long job makes a few
files instead of thousands, and rewriting the current file each step stays cheap. Only the runner writes
them (one writer), always canonically and atomically. A file only grows, with one exception: a job resumed
from a checkpoint redoes the steps after it, and those steps' old numbers (from a run that never reached a
checkpoint) are dropped first, so the curve shows the training that the model actually went through.
"""

from __future__ import annotations

from kilngit import layout
from kilngit.project import Project
from kilngit.records import FineTuneMetrics, StepMetrics
from kilngit.records.finetune import METRICS_CHUNK


def first_step_of(step: int) -> int:
    """The first step of the metrics file holding `step`."""
    return (step - 1) // METRICS_CHUNK * METRICS_CHUNK + 1


class MetricsWriter:
    """Appends step metrics of one fine-tune to its metrics files."""

    def __init__(self, project: Project, task: str, finetune: str) -> None:
        self.project = project
        self.task = task
        self.finetune = finetune
        self._chunk: FineTuneMetrics | None = None

    def _load(self, first_step: int) -> FineTuneMetrics:
        if self._chunk is not None and self._chunk.first_step == first_step:
            return self._chunk
        relpath = layout.finetune_metrics_file(self.task, self.finetune, first_step)
        record = None
        if (self.project.root / relpath).is_file():
            record = self.project.read(relpath).record
        if not isinstance(record, FineTuneMetrics):
            record = FineTuneMetrics(task=self.task, finetune=self.finetune, first_step=first_step)
        return record

    def write(self, *steps: StepMetrics) -> None:
        """Record steps (a step already recorded is replaced)."""
        for metric in steps:
            chunk = self._load(first_step_of(metric.step))
            kept = [s for s in chunk.steps if s.step != metric.step]
            chunk = chunk.model_copy(update={"steps": sorted([*kept, metric], key=lambda s: s.step)})
            self.project.write_record(chunk)
            self._chunk = chunk

    def drop_after(self, step: int) -> None:
        """Forget the metrics of steps after `step` (they belong to training lost in a crash)."""
        self._chunk = None
        for chunk in self.project.finetune_metrics(self.task, self.finetune):
            if chunk.steps and chunk.steps[-1].step > step:
                kept = [s for s in chunk.steps if s.step <= step]
                if kept:
                    self.project.write_record(chunk.model_copy(update={"steps": kept}))
                else:
                    self.project.delete(
                        layout.finetune_metrics_file(self.task, self.finetune, chunk.first_step)
                    )


def read_metrics(project: Project, task: str, finetune: str) -> list[StepMetrics]:
    """Every recorded step of a fine-tune, in step order."""
    return [s for chunk in project.finetune_metrics(task, finetune) for s in chunk.steps]
