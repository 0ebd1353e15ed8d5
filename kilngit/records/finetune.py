"""Fine-tune jobs: the spec people write, and the status only the runner writes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kilngit.records.base import SLUG_PATTERN, Definition, OwnedRecord

FineTuneState = Literal["pending", "uploading", "queued", "running", "succeeded", "failed", "cancelled"]


class FineTune(Definition):
    """What to fine-tune: provider, base model, data and hyperparameters."""

    kind: Literal["finetune"] = "finetune"
    description: str | None = None
    provider: Literal["openai", "tinker", "fireworks_ai", "together_ai", "vertex"]
    """Where the job runs; kilngit runs openai and tinker jobs, the others are kept from Kiln imports."""
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
