"""The record kinds of the kilngit format, as pydantic models (see docs/format.md; the table of kinds,
with their paths and references, is kilngit.kinds)."""

from __future__ import annotations

from kilngit.records.annotation import Annotation
from kilngit.records.base import (
    FORMAT_VERSION,
    Definition,
    MachineRecord,
    OwnedRecord,
    Record,
    is_slug,
    slugify,
)
from kilngit.records.common import RATING_VALUES, Rating, RatingType, Source, Usage
from kilngit.records.dataset import DatasetSplit, SplitMembership, SplitPart
from kilngit.records.evals import Eval, EvalScore, Judge, JudgeResult
from kilngit.records.finetune import FineTune, FineTuneMetrics, FineTuneRound, FineTuneStatus, StepMetrics
from kilngit.records.project import ProjectManifest
from kilngit.records.queue import JobOutcome, JobRequest
from kilngit.records.run import RunError, TaskRun
from kilngit.records.task import FewShot, Prompt, Requirement, RunConfig, Task

__all__ = [
    "FORMAT_VERSION",
    "RATING_VALUES",
    "Annotation",
    "DatasetSplit",
    "Definition",
    "Eval",
    "EvalScore",
    "FewShot",
    "FineTune",
    "FineTuneMetrics",
    "FineTuneRound",
    "FineTuneStatus",
    "JobOutcome",
    "JobRequest",
    "Judge",
    "JudgeResult",
    "MachineRecord",
    "OwnedRecord",
    "Prompt",
    "ProjectManifest",
    "Rating",
    "RatingType",
    "Record",
    "Requirement",
    "RunConfig",
    "RunError",
    "Source",
    "SplitMembership",
    "SplitPart",
    "StepMetrics",
    "Task",
    "TaskRun",
    "Usage",
    "is_slug",
    "slugify",
]
