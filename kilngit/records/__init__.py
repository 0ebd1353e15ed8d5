"""The record kinds of the kilngit format, as pydantic models (see docs/format.md; the table of kinds,
with their paths and references, is kilngit.kinds).

Each name is imported from its module on first use: a command pays only for the models it reads (a warm
`status` never meets a fine-tune or a queued job, and building their classes cost it time before git's
answer)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from kilngit.records.finetune import (
        FineTune,
        FineTuneMetrics,
        FineTuneRound,
        FineTuneStatus,
        StepMetrics,
    )
    from kilngit.records.project import ProjectManifest
    from kilngit.records.queue import JobOutcome, JobRequest
    from kilngit.records.run import RunError, TaskRun
    from kilngit.records.task import FewShot, Prompt, Requirement, RunConfig, Task

#: Where each public name lives (the module under kilngit.records).
_HOME = {
    "Annotation": "annotation",
    **dict.fromkeys(
        ("FORMAT_VERSION", "Definition", "MachineRecord", "OwnedRecord", "Record", "is_slug", "slugify"),
        "base",
    ),
    **dict.fromkeys(("RATING_VALUES", "Rating", "RatingType", "Source", "Usage"), "common"),
    **dict.fromkeys(("DatasetSplit", "SplitMembership", "SplitPart"), "dataset"),
    **dict.fromkeys(("Eval", "EvalScore", "Judge", "JudgeResult"), "evals"),
    **dict.fromkeys(
        ("FineTune", "FineTuneMetrics", "FineTuneRound", "FineTuneStatus", "StepMetrics"), "finetune"
    ),
    "ProjectManifest": "project",
    **dict.fromkeys(("JobOutcome", "JobRequest"), "queue"),
    **dict.fromkeys(("RunError", "TaskRun"), "run"),
    **dict.fromkeys(("FewShot", "Prompt", "Requirement", "RunConfig", "Task"), "task"),
}

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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__name__}.{home}")  # not importlib.import_module: `python -X importtime` shows this one
    value = getattr(sys.modules[f"{__name__}.{home}"], name)
    globals()[name] = value  # found directly next time
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
