"""Fine-tune jobs: the spec people write, and what only the runner writes (status, rounds, step metrics)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kilngit.records.base import SLUG_PATTERN, Definition, OwnedRecord
from kilngit.records.common import Strict

FineTuneState = Literal["pending", "uploading", "queued", "running", "succeeded", "failed", "cancelled"]


class FineTune(Definition):
    """What to fine-tune: provider, base model, data and hyperparameters."""

    kind: Literal["finetune"] = "finetune"
    description: str | None = None
    provider: str = Field(pattern=SLUG_PATTERN)
    """The fine-tune backend that runs the job (`kilngit.finetune.backends`: openai, tinker, fireworks,
    together); another name (e.g. vertex, from a Kiln import) is kept, and refused when started."""
    base_model: str
    split: str = Field(pattern=SLUG_PATTERN)
    """Slug of the dataset split to train on."""
    train_part: str = "train"
    validation_part: str | None = None
    prompt: str | None = None
    """Slug of the prompt whose system message the training examples use."""
    train_on: Literal["final_answer", "repaired_output", "reasoning_and_answer"] = "final_answer"
    params: dict[str, float | int | str | bool] = {}
    kiln_id: str | None = None

    @field_validator("provider", mode="before")
    @classmethod
    def _kiln_names(cls, value: Any) -> Any:
        # Kiln imports before the backend registry kept Kiln's provider names; read them as the backends'.
        return {"fireworks_ai": "fireworks", "together_ai": "together"}.get(value, value)


class FineTuneStatus(OwnedRecord):
    """Where a fine-tune job stands; written only by the runner."""

    kind: Literal["finetune_status"] = "finetune_status"
    task: str
    finetune: str
    state: FineTuneState = "pending"
    provider_job_id: str | None = None
    provider_file_ids: dict[str, str] = {}
    """Uploaded training/validation file IDs, recorded before the job is created so nothing uploads twice."""
    fine_tuned_model: str | None = None
    error: str | None = None
    details: dict[str, Any] | None = None
    request_token: str | None = None
    """Sent with the job-creation request (as job metadata) and recorded first, so a re-run whose creation
    answer was lost finds that job instead of launching a second one."""
    step: int | None = Field(default=None, ge=0)
    """Training steps done and saved in `checkpoint` (jobs kilngit drives itself, e.g. Tinker)."""
    checkpoint: str | None = None
    """Last saved training state (weights and optimizer state); a crashed job resumes from it."""
    sampler_checkpoint: str | None = None
    """Last saved sampler weights (what the run config of the fine-tuned model samples)."""
    run_config: str | None = None
    """Slug of the run config added for the fine-tuned model (the best round's, after a loop)."""
    best_round: int | None = Field(default=None, ge=1)
    """The loop round with the best eval score, whose checkpoint `run_config` uses."""


METRICS_CHUNK = 100
"""Steps per metrics file: a file grows step by step until it holds this many, then is never touched again."""


class StepMetrics(Strict):
    """What one training step measured."""

    step: int = Field(ge=1)
    loss: float | None = None
    """Mean training loss per target token."""
    learning_rate: float | None = None
    round: int | None = Field(default=None, ge=1)
    """The loop round the step belongs to, if any."""
    tokens: float | None = Field(default=None, ge=0)
    """Weighted target tokens in the step's batch."""
    metrics: dict[str, float] = {}
    """Other numbers the provider reported (e.g. valid_loss, train_mean_token_accuracy)."""


class FineTuneMetrics(OwnedRecord):
    """Per-step training metrics of a fine-tune, steps `first_step` .. `first_step + 99`; written only by the
    runner, as the steps happen."""

    kind: Literal["finetune_metrics"] = "finetune_metrics"
    task: str
    finetune: str
    first_step: int = Field(ge=1)
    steps: list[StepMetrics] = []

    @model_validator(mode="after")
    def _steps_in_chunk(self) -> FineTuneMetrics:
        if (self.first_step - 1) % METRICS_CHUNK:
            raise ValueError(f"first_step must be 1 more than a multiple of {METRICS_CHUNK}")
        numbers = [s.step for s in self.steps]
        if numbers != sorted(set(numbers)):
            raise ValueError("steps must be sorted by step, each step once")
        if numbers and not (self.first_step <= numbers[0] and numbers[-1] < self.first_step + METRICS_CHUNK):
            raise ValueError(f"steps must lie in {self.first_step}..{self.first_step + METRICS_CHUNK - 1}")
        return self


class FineTuneRound(OwnedRecord):
    """One round of the eval-driven training loop: how it trained, where it saved, how its eval scored.

    Written once by the runner when the round's eval is done."""

    kind: Literal["finetune_round"] = "finetune_round"
    task: str
    finetune: str
    round: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    steps: int = Field(ge=0)
    """Optimizer steps taken in this round."""
    step: int = Field(ge=0)
    """Total steps trained at the end of this round."""
    loss: float | None = None
    """Mean training loss per target token over the round's steps."""
    checkpoint: str
    """Training state saved at the end of the round."""
    sampler_checkpoint: str
    run_config: str = Field(pattern=SLUG_PATTERN)
    """Run config sampling this round's checkpoint (its eval runs carry it)."""
    eval: str = Field(pattern=rf"^(inspect:\S.*|{SLUG_PATTERN[1:-1]})$")
    """Slug of the kilngit eval that scored the round, or `inspect:PATH_OR_NAME` for an Inspect AI task."""
    judge: str | None = None
    """The kilngit judge, or the Inspect task's scorer."""
    scores: dict[str, float] = {}
    """Eval score name -> mean normalized (0..1) score over the eval set."""
    score: float | None = None
    """The number compared with the threshold: the mean of `scores`."""
    items: int = Field(default=0, ge=0)
    """Eval-set items scored."""
    threshold: float
    reached_threshold: bool = False
