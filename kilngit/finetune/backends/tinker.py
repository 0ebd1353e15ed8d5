"""Tinker as a fine-tune backend: training runs in this process (`kilngit.finetune.tinker_job`).

`start` trains every step, resuming from the last checkpoint, then publishes the sampler weights as a run
config served by Tinker's OpenAI-compatible endpoint. `cancel` marks the job cancelled; the training loop
checks that before every step and stops there, saving what it trained (the Tinker session is this process's).
"""

from __future__ import annotations

from typing import Any

from kilngit.errors import UsageError
from kilngit.finetune.backends import finetune_backend
from kilngit.finetune.backends.base import StartOptions
from kilngit.finetune.jobs import TERMINAL, read_status, write_status
from kilngit.finetune.tinker_job import train_tinker
from kilngit.project import Project
from kilngit.records import FineTune, FineTuneStatus

PARAMS: dict[str, type] = {
    "learning_rate": float,
    "steps": int,
    "epochs": int,
    "batch_size": int,
    "lora_rank": int,
    "checkpoint_every": int,
    "seed": int,
    "tokenizer": str,
    "template": str,
    "max_tokens": int,
}


class TinkerBackend:
    """`FineTuneBackend` training with a Tinker LoRA client from this process."""

    name = "tinker"
    params = PARAMS

    def start(
        self, project: Project, task: str, name: str, spec: FineTune, options: StartOptions
    ) -> FineTuneStatus:
        status = read_status(project, task, name)
        if options.retry and status.state in ("failed", "cancelled"):
            write_status(project, status, state="pending", error=None)
        return train_tinker(project, task, name, spec, service=options.client, tokenizer=options.tokenizer)

    def refresh(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        return read_status(project, task, name)  # the training process writes every change itself

    def cancel(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        status = read_status(project, task, name)
        if status.state in TERMINAL:
            raise UsageError(f"fine-tune {name!r} already {status.state}", "nothing to cancel")
        return write_status(project, status, state="cancelled")


BACKEND = finetune_backend(TinkerBackend())
