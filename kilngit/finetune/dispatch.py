"""`finetune start|status|cancel`: one entry point per action, handed to the fine-tune's backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kilngit import layout
from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.backends import FineTuneBackend, get_backend
from kilngit.finetune.backends.base import DEFAULT_POLL, PollPolicy, StartOptions
from kilngit.finetune.export import Tokenizer
from kilngit.finetune.jobs import TERMINAL, get_finetune, read_status
from kilngit.finetune.metrics import read_metrics
from kilngit.project import Project
from kilngit.records import FineTune, FineTuneStatus


def _backend(task: str, name: str, spec: FineTune) -> FineTuneBackend:
    """The spec's backend, its params checked (imported specs never went through `finetune create`)."""
    backend = get_backend(spec.provider)
    unknown = sorted(set(spec.params) - set(backend.params))
    if unknown:
        raise UsageError(
            f"{layout.finetune_file(task, name)}: unknown {backend.name} parameter(s) {', '.join(unknown)}",
            f"remove them; {backend.name} takes: {', '.join(backend.params)}",
        )
    return backend


def start_finetune(
    project: Project,
    task: str | None,
    name: str,
    *,
    wait: bool = False,
    retry: bool = False,
    poll: PollPolicy = DEFAULT_POLL,
    client: Any = None,
    tokenizer: Tokenizer | None = None,
) -> FineTuneStatus:
    """Dispatch a fine-tune to its backend (or resume it): hosted backends upload and create the job once,
    optionally waiting for it; Tinker trains here until done. `retry` replaces a failed or cancelled job."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    options = StartOptions(wait=wait, retry=retry, poll=poll, client=client, tokenizer=tokenizer)
    return _backend(task, name, spec).start(project, task, name, spec, options)


def refresh_finetune(project: Project, task: str | None, name: str, *, client: Any = None) -> FineTuneStatus:
    """The fine-tune's status, refreshed from the provider when a job is still going."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    status = read_status(project, task, name)
    if status.state in TERMINAL or status.provider_job_id is None:
        return status
    return get_backend(spec.provider).refresh(project, task, name, spec, client)


def cancel_finetune(project: Project, task: str | None, name: str, *, client: Any = None) -> FineTuneStatus:
    """Cancel a fine-tune at its provider (Tinker: the training loop stops before its next step)."""
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    return get_backend(spec.provider).cancel(project, task, name, spec, client)


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
        return {
            "name": self.name,
            "provider": self.spec.provider,
            "base_model": self.spec.base_model,
            "split": self.spec.split,
            "steps": self.steps,
            "last_loss": self.last_loss,
            "refresh_error": self.refresh_error,
            **self.status.to_data(),
        }


def finetune_summaries(
    project: Project, task: str | None, name: str | None = None, *, refresh: bool = True, client: Any = None
) -> list[FineTuneSummary]:
    """Every fine-tune of the task (or just `name`), refreshed from providers unless `refresh` is False."""
    task = project.task_slug(task)
    names = [name] if name else list(project.finetunes(task))
    out = []
    for n in names:
        spec = get_finetune(project, task, n)
        error = None
        try:
            status = (
                refresh_finetune(project, task, n, client=client)
                if refresh
                else read_status(project, task, n)
            )
        except (
            ProviderError,
            UsageError,
        ) as e:  # one unreachable or unknown backend must not hide the others
            status, error = read_status(project, task, n), e.message
        metrics = read_metrics(project, task, n)
        last = next((m.loss for m in reversed(metrics) if m.loss is not None), None)
        out.append(FineTuneSummary(n, spec, status, metrics[-1].step if metrics else 0, last, error))
    return out
