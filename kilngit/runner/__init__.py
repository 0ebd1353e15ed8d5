"""Running tasks with models: prompts, one answer, batches of runs, synthetic inputs.

Imported lazily by the CLI; the public functions are re-exported here for scripts and other packages.
"""

from __future__ import annotations

from kilngit.runner.inputs import RunInput
from kilngit.runner.prompts import RunPlan, load_plan, run_config_hash
from kilngit.runner.run_task import RunKey, RunSummary, existing_runs, run_inputs, run_inputs_async, run_task

__all__ = [
    "RunInput",
    "RunKey",
    "RunPlan",
    "RunSummary",
    "existing_runs",
    "load_plan",
    "run_config_hash",
    "run_inputs",
    "run_inputs_async",
    "run_task",
]
