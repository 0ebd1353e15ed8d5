"""The fine-tune backend contract, and the pieces hosted fine-tuning APIs share.

A backend runs a fine-tune spec somewhere: `start` (dispatch it, or resume it), `refresh` (ask the provider
where it stands), `cancel` (stop it at the provider). Each backend module registers one with
`kilngit.finetune.backends.finetune_backend`. Hosted APIs (OpenAI, Fireworks, Together) implement the smaller
`HostedAPI` instead and get the crash-safe upload/create/poll logic of `kilngit.finetune.backends.hosted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kilngit.records import FineTune, FineTuneStatus, StepMetrics
from kilngit.records.finetune import FineTuneState

if TYPE_CHECKING:
    from kilngit.finetune.export import Tokenizer
    from kilngit.project import Project


@dataclass(frozen=True)
class PollPolicy:
    """How patiently to wait for a job: the first pause, growing by `backoff` up to `max_interval`, for at
    most `timeout` seconds (None: until the job ends). Failed polls back off the same way."""

    interval: float = 5.0
    max_interval: float = 60.0
    backoff: float = 1.5
    timeout: float | None = None
    create_retries: int = 4
    """Attempts at creating the job when the connection fails (each first looks for the job)."""


DEFAULT_POLL = PollPolicy()


@dataclass(frozen=True)
class StartOptions:
    """How `finetune start` runs: wait for the end, replace a failed job, the client to use (tests)."""

    wait: bool = False
    retry: bool = False
    poll: PollPolicy = DEFAULT_POLL
    client: Any = None
    """A ready client (a `HostedAPI`, or Tinker's service client); None: built from the settings."""
    tokenizer: Tokenizer | None = None


@runtime_checkable
class FineTuneBackend(Protocol):
    """Where a fine-tune runs. Every method reads and writes the fine-tune's status file, so any step can
    crash and a re-run resumes it."""

    name: str
    params: dict[str, type]
    """The `--param k=v` the backend takes, with their types."""

    def start(
        self, project: Project, task: str, name: str, spec: FineTune, options: StartOptions
    ) -> FineTuneStatus:
        """Dispatch the job at most once (or resume it); with `options.wait`, until it ends."""
        ...

    def refresh(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        """The status, refreshed from the provider while the job is going."""
        ...

    def cancel(
        self, project: Project, task: str, name: str, spec: FineTune, client: Any = None
    ) -> FineTuneStatus:
        """Cancel the job at the provider, then mark it cancelled."""
        ...


@dataclass(frozen=True)
class RemoteJob:
    """A hosted job as the provider reports it, in kilngit's terms."""

    id: str
    state: FineTuneState | None
    """None: a provider state kilngit does not know (the state on file is kept)."""
    model: str | None = None
    """The fine-tuned model, once there is one (what the run config calls)."""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Numbers worth keeping in the status (trained tokens, progress)."""


@dataclass(frozen=True)
class JobEvent:
    """One event of a hosted job; `metrics` when it reports a training step."""

    message: str
    metrics: StepMetrics | None = None


@dataclass(frozen=True)
class EventPage:
    """The events after `cursor`, oldest first, and the cursor to ask from next time."""

    events: list[JobEvent]
    cursor: str | None


class HostedAPI(Protocol):
    """The wire calls of one hosted fine-tuning API. Methods raise the SDK's or HTTP library's errors;
    `transient` says which are worth retrying."""

    inference_provider: str
    """The provider name (`kilngit.providers`) whose OpenAI-compatible endpoint serves the fine-tuned model."""
    secret: str | None
    """The API key, to keep it out of error messages."""

    def find_file(self, filename: str) -> str | None:
        """The ID of a file uploaded earlier under this name (names carry the data's digest), or None."""
        ...

    def upload(self, filename: str, data: bytes) -> str:
        """Upload a training file; its ID."""
        ...

    def find_job(self, token: str) -> RemoteJob | None:
        """The job created with this request token, if any (its creation answer may have been lost)."""
        ...

    def create_job(self, spec: FineTune, files: dict[str, str], token: str) -> RemoteJob:
        """Create the job for `files` (role -> file ID: train, validation), tagged with `token`."""
        ...

    def get_job(self, job_id: str) -> RemoteJob: ...

    def events(self, job_id: str, cursor: str | None) -> EventPage: ...

    def cancel_job(self, job_id: str) -> None: ...

    def transient(self, error: Exception) -> bool: ...
