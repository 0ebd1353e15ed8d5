"""Job requests and their outcomes: how one machine asks another (the one with the API keys) to run work.

`kilngit queue eval` / `kilngit queue run` write a request; a `kilngit watch` that pulls it runs the job and
writes an outcome naming the request, so the same request is never run twice. Both are content-addressed,
so two machines never write the same file with different bytes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kilngit.records.base import SLUG_PATTERN, MachineRecord

JobKind = Literal["eval", "run"]
OptionValue = str | int | float | bool


class JobRequest(MachineRecord):
    """A request to run a job on whichever watcher picks it up: judge an eval, or run a task."""

    kind: Literal["job_request"] = "job_request"
    task: str
    job: JobKind
    """eval: run an eval's judges on its eval set; run: run the task with a run config."""
    eval: str | None = Field(default=None, pattern=SLUG_PATTERN)
    """For eval jobs: the eval's slug."""
    run_config: str | None = Field(default=None, pattern=SLUG_PATTERN)
    """For run jobs: the run config's slug."""
    filter: str | None = None
    """Which runs: a run filter (default: the eval's eval set, or the task's input-only runs)."""
    options: dict[str, OptionValue] = {}
    """Extra options passed to the job (e.g. samples, limit, judge)."""
    requested_by: str
    requested_at: str
    """When it was requested (ISO 8601, UTC); two requests of the same job at different times are distinct."""
    note: str | None = None

    @model_validator(mode="after")
    def _target(self) -> JobRequest:
        if self.job == "eval" and not self.eval:
            raise ValueError("an eval job needs eval (the eval's slug)")
        if self.job == "run" and not self.run_config:
            raise ValueError("a run job needs run_config (the run config's slug)")
        return self


class JobOutcome(MachineRecord):
    """How a requested job ended; its presence marks the request as done."""

    kind: Literal["job_outcome"] = "job_outcome"
    task: str
    request: str = Field(pattern=r"^[0-9a-f]{16}$")
    """ID of the job request."""
    state: Literal["done", "failed"]
    finished_at: str
    summary: str | None = None
    """What the job did, in a line (e.g. "judged 40 runs")."""
    error: str | None = None
    """Why it failed (never a secret)."""
