"""`run eval --batch`: the requests of LLM judges sent through the provider's Batch API first.

A dry pass asks each LLM judge to judge with a provider that only collects the requests it would send (and
fails them, so that pass decides nothing); those requests go through `kilngit.providers.batch_api.prefetch`
into the recordings; the real pass then judges in record mode and finds its answers there. A judge's later
calls that depend on an earlier answer (none for the built-in judge types' first call) are asked online.
The command is kept as the batches' origin, so the watcher can finish the judgements of batches the command
stopped waiting for (`follow`).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from kilngit.evals.judges import PreparedJudge
from kilngit.project import Project
from kilngit.providers.base import ChatRequest, ChatResponse, RequestFailed
from kilngit.providers.batch_api import BatchTally, prefetch
from kilngit.providers.batch_jobs import save_origin
from kilngit.providers.cache import cache_key, cache_settings
from kilngit.providers.config import provider_settings
from kilngit.records import JudgeResult
from kilngit.state import RunState


class JudgeJob(Protocol):
    """One judgement to make (the eval runner's job)."""

    @property
    def judge(self) -> PreparedJudge: ...
    @property
    def state(self) -> RunState: ...
    @property
    def sample(self) -> int: ...
    @property
    def evidence(self) -> dict[str, JudgeResult] | None: ...


JobT = TypeVar("JobT", bound=JudgeJob)


class _Collector:
    """Stands in for a judge's provider in the dry pass: keeps each request, answers none."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        raise RequestFailed("collected for a batch", "server_error")

    async def aclose(self) -> None:
        pass


async def batch_judge_requests(
    project: Project, jobs: list[JobT], origin: dict[str, Any], follow: str | None = None
) -> tuple[list[JobT], BatchTally | None]:
    """Record the answers to the first request of every LLM judgement in `jobs` through batches. Returns the
    judgements to make now (without those left unanswered on purpose: see `BatchTally.left`) and what the
    batches did. `origin`: the command (kept for the watcher); `follow`: see `prefetch`."""
    by_provider: dict[str, list[tuple[JobT, list[ChatRequest]]]] = {}
    for job in jobs:
        judge = job.judge
        name = judge.setup.judge.provider
        if judge.provider is None or name is None:
            continue  # code judges and checks call no model
        real, collector = judge.provider, _Collector(judge.provider.name)
        judge.provider = collector
        try:
            await judge.judge(job.state, job.sample, job.evidence)
        except RequestFailed:
            pass
        finally:
            judge.provider = real
        by_provider.setdefault(name, []).append((job, collector.requests))
    if not by_provider:
        return jobs, None
    total = BatchTally()
    origin_id = save_origin(project, origin) if follow is None else None
    folder = cache_settings(project, "record").folder
    dropped: set[int] = set()
    for name, pairs in by_provider.items():
        requests = [r for _, made in pairs for r in made]
        tally = prefetch(
            project, provider_settings(name), requests, folder=folder, origin=origin_id, follow=follow
        )
        total.add(tally)
        dropped |= {id(job) for job, made in pairs if any(cache_key(name, r) in tally.left for r in made)}
    return [job for job in jobs if id(job) not in dropped], total
