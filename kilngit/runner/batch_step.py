"""The Batch API step of `run task --batch`: the work left's first requests answered through batches into
the recordings before the ordinary run reads them there (`kilngit.providers.batch_api`).

The command's inputs are kept as the job's origin (`save_origin`), so the watcher can finish the runs of a
batch the command stopped waiting for: `follow=ORIGIN` polls that command's batches once, sends nothing, and
keeps only the work whose answers came back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kilngit.project import Project
from kilngit.providers.batch_api import BatchTally, prefetch
from kilngit.providers.batch_jobs import save_origin
from kilngit.providers.cache import cache_key, cache_settings
from kilngit.providers.config import provider_settings
from kilngit.records import Source
from kilngit.runner.inputs import RunInput
from kilngit.runner.prompts import RunPlan

Todo = list[tuple[RunInput, int]]


def batch_todo(
    project: Project,
    plan: RunPlan,
    todo: Todo,
    *,
    samples: int,
    tags: Sequence[str],
    follow: str | None = None,
) -> tuple[Todo, BatchTally]:
    """Prefetch the first requests of `todo` through batches; returns the work the run should go on with
    (without the requests left unanswered on purpose: a batch cancelled meanwhile, or, following, those
    whose answer is not back yet) and what the batches did."""
    name = plan.run_config.provider
    calls = [plan.first_call(item.text, sample) for item, sample in todo]
    origin = None
    if follow is None:
        origin = save_origin(
            project,
            {
                "command": "run task",
                "task": plan.task_slug,
                "run_config": plan.run_config_slug,
                "samples": samples,
                "tags": sorted(tags),
                "inputs": [input_data(item) for item in {i.text: i for i, _ in todo}.values()],
            },
        )
    tally = prefetch(
        project,
        provider_settings(name),
        calls,
        folder=cache_settings(project, "record").folder,
        origin=origin,
        follow=follow,
    )
    if tally.left:
        todo = [job for job, call in zip(todo, calls, strict=True) if cache_key(name, call) not in tally.left]
    return todo, tally


def input_data(item: RunInput) -> dict[str, Any]:
    return {
        "text": item.text,
        "source": item.source.model_dump(mode="json", exclude_none=True),
        "tags": list(item.tags),
        "parent": item.parent,
    }


def origin_inputs(origin: dict[str, Any]) -> list[RunInput]:
    """The inputs a `run task` origin keeps, as the command had them."""
    return [
        RunInput(i["text"], Source.model_validate(i["source"]), tuple(i["tags"]), i.get("parent"))
        for i in origin["inputs"]
    ]
