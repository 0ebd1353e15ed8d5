"""`finetune start|status|cancel`: one entry point per action, dispatching on the fine-tune's provider."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.export import Tokenizer
from kilngit.finetune.jobs import TERMINAL, get_finetune, read_status, write_status
from kilngit.finetune.metrics import read_metrics
from kilngit.finetune.openai_job import DEFAULT_POLL, PollPolicy
from kilngit.project import Project
from kilngit.records import FineTune, FineTuneStatus


def start_finetune(project: Project, task: str | None, name: str, *, wait: bool = False, retry: bool = False,
                   poll: PollPolicy = DEFAULT_POLL, client: Any = None, tokenizer: Tokenizer | None = None
                   ) -> FineTuneStatus:
    """Dispatch a fine-tune (or resume it). OpenAI: upload and create the job, once, optionally waiting for
    it. Tinker: train here until done. `retry` replaces a failed or cancelled job."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    if spec.provider == "openai":
        from kilngit.finetune.openai_job import start_openai

        return start_openai(project, task, name, spec, client=client, wait=wait, poll=poll, retry=retry)
    from kilngit.finetune.tinker_job import train_tinker

    status = read_status(project, task, name)
    if retry and status.state in ("failed", "cancelled"):
        write_status(project, status, state="pending", error=None)
    return train_tinker(project, task, name, spec, service=client, tokenizer=tokenizer)


def refresh_finetune(project: Project, task: str | None, name: str, *, client: Any = None) -> FineTuneStatus:
    """The fine-tune's status, refreshed from the provider when a remote job is still going."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    status = read_status(project, task, name)
    if spec.provider == "openai" and status.provider_job_id and status.state not in TERMINAL:
        from kilngit.finetune.openai_job import refresh_openai

        return refresh_openai(project, task, name, spec, client=client)
    return status


def cancel_finetune(project: Project, task: str | None, name: str, *, client: Any = None) -> FineTuneStatus:
    """Cancel a fine-tune: the provider's job, or (Tinker) the training loop before its next step."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    if spec.provider == "openai":
        from kilngit.finetune.openai_job import cancel_openai

        return cancel_openai(project, task, name, client=client)
    status = read_status(project, task, name)
    if status.state in TERMINAL:
        raise UsageError(f"fine-tune {name!r} already {status.state}", "nothing to cancel")
    return write_status(project, status, state="cancelled")


@dataclass(frozen=True)
class FineTuneSummary:
    """One fine-tune as `finetune status` shows it."""

    name: str
    spec: FineTune
    status: FineTuneStatus
    steps: int
    last_loss: float | None
    refresh_error: str | None = None
    """Why the provider could not be asked (the status shown is then the one on file)."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.spec.provider, "base_model": self.spec.base_model,
                "split": self.spec.split, "steps": self.steps, "last_loss": self.last_loss,
                "refresh_error": self.refresh_error, **self.status.to_data()}


def finetune_summaries(project: Project, task: str | None, name: str | None = None, *, refresh: bool = True,
                       client: Any = None) -> list[FineTuneSummary]:
    """Every fine-tune of the task (or just `name`), refreshed from providers unless `refresh` is False."""
    task = project.task_slug(task)
    names = [name] if name else list(project.finetunes(task))
    out = []
    for n in names:
        spec = get_finetune(project, task, n)
        error = None
        try:
            status = refresh_finetune(project, task, n, client=client) if refresh else read_status(project, task, n)
        except ProviderError as e:  # one unreachable provider must not hide the other fine-tunes
            status, error = read_status(project, task, n), e.message
        metrics = read_metrics(project, task, n)
        last = next((m.loss for m in reversed(metrics) if m.loss is not None), None)
        out.append(FineTuneSummary(n, spec, status, metrics[-1].step if metrics else 0, last, error))
    return out
