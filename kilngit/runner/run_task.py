"""Running a task over many inputs: concurrent, bounded, written run by run, resumable.

    summary = run_task(project, "ffmpeg", "gpt4o-mini", filter_text="input_only", samples=2, concurrency=16)

* Work left = the (input, sample) pairs asked for minus those that already have a run of this run config at
  its current definition hash (`run_config_hash`), so a killed job resumes and a finished job is a no-op.
* Each run is written atomically as soon as its answer is in; Ctrl-C cancels what is in flight and keeps
  everything finished.
* A model answer that is unusable (refused, truncated, empty, malformed, invalid against the output schema)
  is written as a failed run: it is what the model said, and re-running would pay for it again.
* A provider failure that outlasts the retries (rate limits, server errors, timeouts, dropped connections) is
  *not* written: it says nothing about the model, so the next run retries it. It is counted and reported.
  A failure every request would repeat (bad key, unknown model, replay miss) stops the batch.
* `batch=True` first sends the work left through the provider's Batch API at the batch price, into the
  recordings (`kilngit.providers.batch_api`); the ordinary run then reads its answers from there and asks online
  only for what the batches did not answer (failed lines, the second call of a two-step chain of thought).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from kilngit.errors import KilngitError, ProviderError, UsageError
from kilngit.joblock import job_locks
from kilngit.project import Project
from kilngit.providers.base import Provider
from kilngit.providers.batch_api import BatchTally
from kilngit.providers.config import provider_settings
from kilngit.providers.registry import get_provider
from kilngit.records import Source, TaskRun
from kilngit.runner.batch import Outcome, Tally, run_batch, run_sync
from kilngit.runner.batch_step import batch_todo
from kilngit.runner.execute import Answered, answer
from kilngit.runner.inputs import RunInput, check_tags, file_inputs, filter_inputs, typed_input
from kilngit.runner.prompts import RunPlan, get_run_config, load_plan
from kilngit.runner.writer import RecordWriter


class RunKey(NamedTuple):
    """What makes a run unique for one run config (at one definition hash): its input and sample index."""

    input: str
    sample: int


@dataclass
class RunSummary(Tally, Outcome):
    """What a batch did (`done`: runs that succeeded; `failed`: failed runs by error type). `results` maps every
    requested (input, sample) that has a run to that run."""

    task: str
    run_config: str
    run_config_hash: str = ""
    new_runs: list[TaskRun] = field(default_factory=list)
    results: dict[RunKey, TaskRun] = field(default_factory=dict)
    stale: int = 0
    """Runs of this run config made before its definition (or prompt) last changed; kept, not reused."""
    batch: BatchTally | None = None
    """What the Batch API did, with --batch."""

    @property
    def succeeded(self) -> int:
        return self.done

    @property
    def reasons(self) -> dict[str, list[str]]:
        return self.examples

    @property
    def remaining(self) -> int:
        """(input, sample) pairs still without a run."""
        return self.planned - len(self.results)

    def work_left(self) -> str | None:
        if self.remaining:
            return f"{self.remaining} of {self.planned} runs could not be made (see above)"
        return None

    def check(self) -> None:
        """`Outcome.check`, and a batch that made nothing it was asked for is an error too."""
        super().check()
        if not self.planned:
            raise KilngitError("no inputs to run", "check --filter (e.g. input_only) or the --inputs file")
        if self.planned > self.skipped and not self.succeeded:
            raise KilngitError(
                f"none of the {self.planned - self.skipped} new runs succeeded (see above)",
                "look at the failed runs: kilngit runs --columns id,error,output",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "run_config": self.run_config,
            "run_config_hash": self.run_config_hash,
            "planned": self.planned,
            "skipped": self.skipped,
            "succeeded": self.succeeded,
            "failed": dict(self.failed),
            "not_recorded": dict(self.not_recorded),
            "reasons": self.reasons,
            "new_runs": [r.id for r in self.new_runs],
            "remaining": self.remaining,
            "stale": self.stale,
            "batch": self.batch.to_dict() if self.batch else None,
            "interrupted": self.interrupted,
            "fatal": str(self.fatal) if self.fatal else None,
            "seconds": round(self.seconds, 2),
        }

    def lines(self) -> list[str]:
        """A human summary."""
        out = [
            f"{self.task}/{self.run_config}: {self.succeeded} succeeded, {sum(self.failed.values())} failed, "
            f"{self.skipped} already done, {self.remaining} left, in {self.seconds:.1f}s"
        ]
        for kind, counter in (
            ("failed run", self.failed),
            ("not recorded (will be retried)", self.not_recorded),
        ):
            for key, count in sorted(counter.items()):
                out.append(f"  {count} {kind}: {key}: {' | '.join(self.reasons.get(key, []))}")
        if self.batch:
            b = self.batch
            out.append(
                f"  batch: {b.submitted} request(s) submitted, {len(b.batches)} batch(es) followed, "
                f"{b.recorded} answered at the batch price, {b.failed} without an answer"
                + (f", {len(b.left)} left for later (cancelled or not back yet)" if b.left else "")
            )
        if self.stale:
            out.append(
                f"  {self.stale} older runs of this run config (before its last edit) are kept, not reused"
            )
        if self.interrupted:
            out.append("  interrupted: finished runs are kept; run the same command again to resume")
        return out  # a fatal failure is the caller's to raise (and print once)


def existing_runs(
    project: Project, task: str, run_config: str, config_hash: str
) -> tuple[dict[RunKey, TaskRun], int]:
    """The runs of a run config at `config_hash`, by (input, sample) (a successful run preferred when there are
    several), and how many of its runs carry another hash."""
    found: dict[RunKey, TaskRun] = {}
    stale = 0
    for run in project.runs(task).values():
        src = run.output_source
        if src is None or src.run_config != run_config:
            continue
        if src.run_config_hash != config_hash:
            stale += 1
            continue
        key = RunKey(run.input, run.sample)
        if key not in found or (found[key].error is not None and run.error is None):
            found[key] = run
    return found, stale


def json_schema_support(provider_name: str) -> bool:
    """Whether a provider takes response_format json_schema; True for providers this machine does not know
    (e.g. replaying a teammate's recordings), so the requests match theirs."""
    try:
        return provider_settings(provider_name).supports_json_schema
    except ProviderError:
        return True


async def run_inputs_async(
    project: Project,
    task: str,
    run_config: str,
    inputs: Iterable[RunInput],
    *,
    samples: int = 1,
    concurrency: int = 8,
    cache: str | None = None,
    provider: Provider | None = None,
    progress: bool | None = None,
    tags: Sequence[str] = (),
    summary: RunSummary | None = None,
    batch: bool = False,
    follow: str | None = None,
) -> RunSummary:
    """Answer each input `samples` times with a run config, writing each run as it completes (see module doc).

    `provider` replaces the run config's provider (tests, demos). `follow` (a batch origin ID, the watcher):
    only the runs whose answers that command's batches brought back. Cancelling the coroutine stops cleanly."""
    batch = batch or follow is not None
    if samples < 1 or concurrency < 1:
        raise UsageError("--samples and --concurrency must be at least 1")
    if batch and (provider is not None or cache == "replay"):
        raise UsageError("--batch sends requests to the run config's provider", "drop --cache replay")
    task = project.task_slug(task)
    tags = check_tags(tags)
    rc = get_run_config(project, task, run_config)
    plan = load_plan(
        project,
        task,
        run_config,
        supports_json_schema=json_schema_support(rc.provider) if not provider else True,
    )
    summary = summary or RunSummary(task, run_config)
    summary.run_config_hash = plan.config_hash
    with job_locks(project.root, [f"run task {task}/{run_config}"]) as waited:
        if waited:
            project.refresh()  # the other process wrote runs meanwhile: work left is derived again
        return await _run_locked(
            project,
            task,
            run_config,
            plan,
            inputs,
            samples,
            concurrency,
            cache,
            provider,
            progress,
            tags,
            summary,
            batch,
            follow,
        )


async def _run_locked(
    project: Project,
    task: str,
    run_config: str,
    plan: RunPlan,
    inputs: Iterable[RunInput],
    samples: int,
    concurrency: int,
    cache: str | None,
    provider: Provider | None,
    progress: bool | None,
    tags: Sequence[str],
    summary: RunSummary,
    batch: bool = False,
    follow: str | None = None,
) -> RunSummary:
    start = time.perf_counter()
    done, summary.stale = existing_runs(project, task, run_config, plan.config_hash)
    todo: list[tuple[RunInput, int]] = []
    seen: set[str] = set()
    for item in inputs:
        if item.text in seen:
            continue
        seen.add(item.text)
        for sample in range(samples):
            key = RunKey(item.text, sample)
            summary.planned += 1
            if key in done:
                summary.skipped += 1
                summary.results[key] = done[key]
            else:
                todo.append((item, sample))
    if not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    if batch:  # answers go to the recordings, so the run below must read them
        cache = "record"
        todo, summary.batch = batch_todo(project, plan, todo, samples=samples, tags=tags, follow=follow)
        if not todo:
            summary.seconds = time.perf_counter() - start
            return summary
    own = provider is None
    provider = provider or get_provider(plan.run_config.provider, project, cache=cache)
    try:
        await _run_jobs(project, plan, provider, todo, concurrency, progress, tuple(tags), summary)
    finally:
        summary.seconds = time.perf_counter() - start
        if own:
            await provider.aclose()
    return summary


async def _run_jobs(
    project: Project,
    plan: RunPlan,
    provider: Provider,
    todo: list[tuple[RunInput, int]],
    concurrency: int,
    progress: bool | None,
    tags: tuple[str, ...],
    summary: RunSummary,
) -> None:
    async with RecordWriter(project) as writer:

        async def one(job: tuple[RunInput, int]) -> None:
            item, sample = job
            answered = await answer(provider, plan, item.text, sample)
            run = build_run(plan, provider.name, item, sample, answered, tags)
            key = RunKey(item.text, sample)
            await writer.write(run, lambda r: _count(summary, r, key))

        label = f"{plan.task_slug}/{plan.run_config_slug}"
        await run_batch(
            todo,
            one,
            outcome=summary,
            tally=lambda _: summary,
            concurrency=concurrency,
            label=label,
            progress=progress,
        )


def _count(summary: RunSummary, run: Any, key: RunKey) -> None:
    summary.new_runs.append(run)
    summary.results[key] = run
    if run.error is None:
        summary.done += 1
    else:
        summary.note(summary.failed, run.error.type, run.error.message)


def build_run(
    plan: RunPlan,
    provider_name: str,
    item: RunInput,
    sample: int,
    answered: Answered,
    tags: tuple[str, ...] = (),
) -> TaskRun:
    """The run record for one answered input, with its content ID."""
    rc = plan.run_config
    source = Source(
        type="synthetic",
        provider=rc.provider or provider_name,
        model=rc.model,
        prompt=rc.prompt,
        run_config=plan.run_config_slug,
        run_config_hash=plan.config_hash,
    )
    run = TaskRun(
        task=plan.task_slug,
        input=item.text,
        input_source=item.source,
        output=answered.output,
        output_source=source,
        sample=sample,
        reasoning=answered.reasoning,
        intermediate_outputs=answered.intermediate or None,
        usage=answered.usage,
        error=answered.error,
        tags=sorted(set(item.tags) | set(tags)),
        parent=item.parent,
    )
    return run.model_copy(update={"id": run.expected_id()})


def run_inputs(
    project: Project, task: str, run_config: str, inputs: Iterable[RunInput], **options: Any
) -> RunSummary:
    """`run_inputs_async` from synchronous code. Ctrl-C returns the summary with `interrupted` set."""
    summary = RunSummary(project.task_slug(task), run_config)
    return run_sync(run_inputs_async(project, task, run_config, inputs, summary=summary, **options), summary)


def run_task(
    project: Project,
    task: str,
    run_config: str,
    *,
    text: str | None = None,
    inputs_file: Path | None = None,
    filter_text: str | None = None,
    author: str | None = None,
    **options: Any,
) -> RunSummary:
    """Run a task over inputs given one of three ways: one typed `text`, a JSONL `inputs_file`, or the inputs of
    the runs matching `filter_text`. Options are those of `run_inputs_async`."""
    given = [x for x in (text, inputs_file, filter_text) if x is not None]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --input, --inputs and --filter",
            "e.g. --filter input_only to answer generated inputs",
        )
    task = project.task_slug(task)
    if text is not None:
        inputs = [typed_input(project, task, text, author)]
    elif inputs_file is not None:
        inputs = file_inputs(project, task, inputs_file)
    else:
        inputs = filter_inputs(project, task, filter_text or "")
    return run_inputs(project, task, run_config, inputs, **options)
