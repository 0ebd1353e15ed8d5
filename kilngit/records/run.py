"""Task runs: one input and (usually) one output, with who or what produced each."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kilngit.records.base import MachineRecord
from kilngit.records.common import Source, Strict, Usage

RunErrorType = Literal[
    "provider_error", "invalid_output", "truncated", "refused", "empty", "malformed", "timeout"
]


class RunError(Strict):
    """Why a run has no usable output. Failed runs are kept so nothing is silently lost."""

    type: RunErrorType
    message: str


class TaskRun(MachineRecord):
    """An input for a task and, unless it is input-only, the output produced for it.

    Append-only: ratings, tags added later and repairs live in annotations, never here.
    """

    kind: Literal["task_run"] = "task_run"
    task: str
    """Slug of the task."""
    input: str
    """The input as text (JSON text for structured inputs)."""
    input_source: Source
    output: str | None = None
    """The output as text (JSON text for structured outputs); absent for input-only runs."""
    output_source: Source | None = None
    sample: int = Field(default=0, ge=0)
    """Index of this sample when one (input, run config) pair is run several times."""
    reasoning: str | None = None
    """Chain-of-thought or model reasoning kept beside the final output."""
    intermediate_outputs: dict[str, str] | None = None
    """Other named intermediate texts (e.g. a first draft)."""
    usage: Usage | None = None
    error: RunError | None = None
    tags: list[str] = []
    """Tags given when the run was created (later tag changes live in annotations)."""
    parent: str | None = None
    """ID of the input-only run this run answered, if any."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TaskRun:
        if self.output is not None and self.output_source is None:
            raise ValueError("a run with an output needs output_source (who or what produced it)")
        if self.tags != sorted(set(self.tags)):
            raise ValueError("tags must be sorted and unique")
        return self

    @property
    def input_only(self) -> bool:
        """True for runs that hold an input waiting to be run (e.g. generated inputs)."""
        return self.output is None and self.error is None
