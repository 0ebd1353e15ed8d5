"""`run eval --batch`: the requests of LLM judges sent through the provider's Batch API first.

A dry pass asks each LLM judge to judge with a provider that only collects the requests it would send (and
fails them, so that pass decides nothing); those requests go through `kilngit.providers.batch_api.prefetch`
into the recordings; the real pass then judges in record mode and finds its answers there. A judge's later
calls that depend on an earlier answer (none for the built-in judge types' first call) are asked online.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kilngit.evals.judges import PreparedJudge
from kilngit.project import Project
from kilngit.providers.base import ChatRequest, ChatResponse, RequestFailed
from kilngit.providers.batch_api import BatchTally, prefetch
from kilngit.providers.cache import cache_settings
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


async def batch_judge_requests(project: Project, jobs: Iterable[JudgeJob]) -> BatchTally | None:
    """Record the answers to the first request of every LLM judgement in `jobs` through batches."""
    by_provider: dict[str, list[ChatRequest]] = {}
    for job in jobs:
        judge = job.judge
        if judge.provider is None or judge.setup.judge.provider is None:
            continue  # code judges and checks call no model
        real, collector = judge.provider, _Collector(judge.provider.name)
        judge.provider = collector
        try:
            await judge.judge(job.state, job.sample, job.evidence)
        except RequestFailed:
            pass
        finally:
            judge.provider = real
        by_provider.setdefault(judge.setup.judge.provider, []).extend(collector.requests)
    total: BatchTally | None = None
    folder = cache_settings(project, "record").folder
    for name, requests in by_provider.items():
        tally = prefetch(project, provider_settings(name), requests, folder=folder)
        if total is None:
            total = tally
        else:
            total.submitted += tally.submitted
            total.recorded += tally.recorded
            total.failed += tally.failed
            total.batches += tally.batches
    return total
