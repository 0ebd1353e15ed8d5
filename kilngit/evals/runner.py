"""Running an eval: judge its eval set and golden set with its judges, concurrently and resumably.

    summary = run_eval(project, "ffmpeg", "correctness", configs=["gpt4o-mini"], samples=3)

* With `configs`, each run config first answers the eval inputs (the runner reuses runs it already made at the
  config's current definition), and those runs are judged too: that is how run methods are compared.
* Work left = (runs with an output) x judges x samples minus the (judge hash, run, sample) that already have a
  current result, so a killed eval resumes and a finished one is a no-op. Deterministic judges (code, simple
  checks) are judged once per run whatever `samples` says. An error result counts as done unless
  `retry_errors`; a later scored result supersedes it.
* Grounded judges (which read other judges' results) are judged after the others, from the results then on
  disk; a run whose evidence is still missing is counted as not recorded and judged by a later run.
* Each result is written as soon as it is in. Provider failures worth retrying later are counted, not
  written; a failure every request would repeat (bad key, missing recording) stops the eval.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kilngit.errors import NotFoundError, UsageError, WorkLeft
from kilngit.evals.batch_judges import batch_judge_requests
from kilngit.evals.executors import Executor, open_executor
from kilngit.evals.executors.local import LocalExecutor
from kilngit.evals.items import eval_items, judgeable
from kilngit.evals.judges import PreparedJudge
from kilngit.evals.judges.grounded import pick_evidence
from kilngit.evals.results import eval_results, find_eval
from kilngit.joblock import job_locks
from kilngit.project import Project
from kilngit.providers.batch_api import BatchTally
from kilngit.records import Eval, JudgeResult
from kilngit.runner import RunSummary, run_inputs_async
from kilngit.runner.batch import Outcome, Tally, run_batch, run_sync
from kilngit.runner.inputs import filter_inputs
from kilngit.runner.writer import RecordWriter
from kilngit.state import RunState


@dataclass
class JudgeTally(Tally):
    """What one judge did in one eval run (`done`: results scored; `failed`: results recorded with an error,
    by kind: crash, timeout, malformed, provider...)."""

    @property
    def scored(self) -> int:
        return self.done

    @property
    def errors(self) -> Counter[str]:
        return self.failed


@dataclass
class EvalRunSummary(Outcome):
    """What `run_eval` did."""

    task: str
    eval: str
    judges: dict[str, JudgeTally] = field(default_factory=dict)
    configs: list[RunSummary] = field(default_factory=list)
    runs: int = 0
    """Runs with an output that were in scope (eval set, golden set, run-config runs)."""
    no_output: int = 0
    stale: int = 0
    batch: BatchTally | None = None
    """What the Batch API did for the LLM judges, with --batch."""

    def work_left(self) -> str | None:
        left = sum(sum(t.not_recorded.values()) for t in self.judges.values())
        return f"{left} judgement(s) could not be made (provider failures, see above)" if left else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "eval": self.eval,
            "runs": self.runs,
            "no_output": self.no_output,
            "stale_results": self.stale,
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 2),
            "fatal": str(self.fatal) if self.fatal else None,
            "configs": [c.to_dict() for c in self.configs],
            "batch": self.batch.to_dict() if self.batch else None,
            "judges": {
                name: {
                    "planned": t.planned,
                    "skipped": t.skipped,
                    "scored": t.scored,
                    "errors": dict(t.errors),
                    "not_recorded": dict(t.not_recorded),
                    "examples": t.examples,
                }
                for name, t in self.judges.items()
            },
        }

    def lines(self) -> list[str]:
        """A human summary."""
        out = [line for c in self.configs for line in c.lines()]
        out.append(
            f"{self.task}/{self.eval}: {self.runs} run(s) to judge"
            + (f" ({self.no_output} without output skipped)" if self.no_output else "")
            + f", in {self.seconds:.1f}s"
        )
        if self.batch:
            b = self.batch
            out.append(
                f"  batch: {b.submitted} judge request(s) submitted, {b.recorded} answered at the batch price, "
                f"{b.failed} without an answer"
                + (f", {len(b.left)} left for later (cancelled or not back yet)" if b.left else "")
            )
        for name, t in self.judges.items():
            errors = sum(t.errors.values())
            out.append(
                f"  {name}: {t.scored} judged, {errors} error(s), {t.skipped} already done"
                + (
                    f", {sum(t.not_recorded.values())} not recorded (will be retried)"
                    if t.not_recorded
                    else ""
                )
            )
            for kind, count in sorted((t.errors + t.not_recorded).items()):
                out.append(f"    {count} {kind}: {' | '.join(m[:160] for m in t.examples.get(kind, []))}")
        if self.stale:
            out.append(
                f"  {self.stale} stale result(s) from older judge definitions are kept on disk and ignored"
            )
        if self.interrupted:
            out.append("  interrupted: finished results are kept; run the same command again to resume")
        if self.fatal:
            out.append(f"  stopped: {self.fatal}")
        return out


@dataclass(frozen=True)
class _Job:
    judge: PreparedJudge
    state: RunState
    sample: int
    evidence: dict[str, JudgeResult] | None = None


async def run_eval_async(
    project: Project,
    task: str | None,
    eval_slug: str,
    *,
    judges: Sequence[str] = (),
    configs: Sequence[str] = (),
    samples: int = 1,
    concurrency: int = 8,
    cache: str | None = None,
    progress: bool | None = None,
    retry_errors: bool = False,
    summary: EvalRunSummary | None = None,
    batch: bool = False,
    follow: str | None = None,
    executor: Executor | None = None,
) -> EvalRunSummary:
    """Judge an eval (see the module doc). `judges` limits the judges (default: all of the eval's).
    `batch`: LLM judges' requests (and the runs of `configs`) go through the Batch API first
    (`kilngit.evals.batch_judges`); `follow` (a batch origin ID, the watcher): only the judgements whose
    answers that command's batches brought back. `executor`: where code judges run (default: this machine's
    process pool; `kilngit.evals.executors`); results are written here either way."""
    batch = batch or follow is not None
    if samples < 1 or concurrency < 1:
        raise UsageError("--samples and --concurrency must be at least 1")
    if batch and cache == "replay":
        raise UsageError("--batch sends requests to the judges' providers", "drop --cache replay")
    task = project.task_slug(task)
    ev = find_eval(project, task, eval_slug)
    names = list(judges) or list(project.judges(task, eval_slug))
    if not names:
        raise NotFoundError(
            f"eval {eval_slug!r} has no judges", f"add one: tasks/{task}/evals/{eval_slug}/judges/<name>.yaml"
        )
    known = project.judges(task, eval_slug)
    for name in names:
        if name not in known:
            raise NotFoundError(
                f"eval {eval_slug!r} has no judge {name!r}", f"judges: {', '.join(known) or 'none'}"
            )
    summary = summary or EvalRunSummary(task, eval_slug)
    with job_locks(project.root, [f"run eval {task}/{eval_slug}/{name}" for name in names]) as waited:
        if waited:
            project.refresh()  # the other process judged meanwhile: work left is derived again
        return await _run_locked(
            project,
            task,
            ev,
            eval_slug,
            names,
            configs,
            samples,
            concurrency,
            cache,
            progress,
            retry_errors,
            summary,
            batch,
            follow,
            executor or LocalExecutor(),
        )


async def _run_locked(
    project: Project,
    task: str,
    ev: Eval,
    eval_slug: str,
    names: list[str],
    configs: Sequence[str],
    samples: int,
    concurrency: int,
    cache: str | None,
    progress: bool | None,
    retry_errors: bool,
    summary: EvalRunSummary,
    batch: bool,
    follow: str | None,
    executor: Executor,
) -> EvalRunSummary:
    start = time.perf_counter()
    if batch:
        cache = "record"  # the batches' answers are recordings
    prepared = [
        PreparedJudge.prepare(project, task, eval_slug, name, cache=cache, executor=executor)
        for name in names
    ]
    try:
        items = eval_items(project, task, ev)
        targets = items.eval_set + items.golden
        for config in configs:
            done = await run_inputs_async(
                project,
                task,
                config,
                filter_inputs(project, task, ev.eval_set),
                concurrency=concurrency,
                cache=cache,
                progress=progress,
                batch=batch,
            )
            summary.configs.append(done)
            if done.fatal:
                summary.fatal = done.fatal
                return summary
            states = project.states(task)
            targets += [states[r.id] for r in done.results.values() if r.id in states]
        runs = judgeable(targets)
        summary.runs = len(runs)
        summary.no_output = len({s.id for s in targets}) - len(runs)
        for stage in ([j for j in prepared if not j.grounded], [j for j in prepared if j.grounded]):
            if stage and not summary.fatal:
                jobs = _plan(project, task, eval_slug, stage, runs, samples, retry_errors, summary)
                if batch:
                    jobs = await _batch(project, jobs, names, samples, retry_errors, summary, follow)
                await _judge_all(
                    project, jobs, concurrency, executor.slots, progress, summary, f"{task}/{eval_slug}"
                )
    finally:
        summary.seconds = time.perf_counter() - start
        for judge in prepared:
            await judge.aclose()
    return summary


async def _batch(
    project: Project,
    jobs: list[_Job],
    names: list[str],
    samples: int,
    retry_errors: bool,
    summary: EvalRunSummary,
    follow: str | None,
) -> list[_Job]:
    """The Batch API step: the judgements to make now (the others are counted as left for later)."""
    origin: dict[str, Any] = {"command": "run eval", "task": summary.task, "eval": summary.eval}
    origin |= {"judges": names, "samples": samples, "retry_errors": retry_errors}
    kept, tally = await batch_judge_requests(project, jobs, origin, follow)
    if tally is not None:
        summary.batch = summary.batch or BatchTally()
        summary.batch.add(tally)
    kept_ids = {id(j) for j in kept}
    for job in (j for j in jobs if id(j) not in kept_ids):
        t = summary.judges[job.judge.setup.judge_slug]
        t.note(t.not_recorded, "batch", "left for later: its batch was cancelled or is not back yet")
    return kept


def _plan(
    project: Project,
    task: str,
    eval_slug: str,
    prepared: list[PreparedJudge],
    runs: list[RunState],
    samples: int,
    retry_errors: bool,
    summary: EvalRunSummary,
) -> list[_Job]:
    results = eval_results(project, task, eval_slug)
    summary.stale = results.stale_total()
    jobs = []
    for judge in prepared:
        tally = summary.judges.setdefault(judge.setup.judge_slug, JudgeTally())
        for state in runs:
            verdict = results.verdict(judge.setup.judge_slug, state.id)
            evidence = pick_evidence(results, judge.setup, state.id) if judge.grounded else None
            for sample in range(samples if judge.sampled else 1):
                tally.planned += 1
                if verdict is not None and verdict.done(sample, retry_errors):
                    tally.skipped += 1
                elif isinstance(evidence, str):
                    tally.note(tally.not_recorded, "no_evidence", evidence)
                else:
                    jobs.append(_Job(judge, state, sample, evidence))
    # Interleave judges so slow code judges and fast LLM judges share the workers.
    return sorted(jobs, key=lambda j: (j.state.id, j.sample))


async def _judge_all(
    project: Project,
    jobs: list[_Job],
    concurrency: int,
    slots: int,
    progress: bool | None,
    summary: EvalRunSummary,
    label: str,
) -> None:
    # Code judges start processes (the example's run ffmpeg): more of them than the executor's cores only
    # adds contention.
    processes = asyncio.Semaphore(max(1, min(concurrency, slots)))
    async with RecordWriter(project) as writer:

        async def one(job: _Job) -> None:
            setup = job.judge.setup
            if job.judge.runs_code:
                async with processes:
                    verdict = await job.judge.judge(job.state, job.sample)
            else:
                verdict = await job.judge.judge(job.state, job.sample, job.evidence)
            await writer.write(verdict.to_result(setup, job.state.run, job.sample))
            tally = summary.judges[setup.judge_slug]
            if verdict.error:
                kind = (verdict.details or {}).get("kind") or verdict.error.split(":", 1)[0]
                tally.note(tally.failed, str(kind), verdict.error)
            else:
                tally.done += 1

        await run_batch(
            jobs,
            one,
            outcome=summary,
            tally=lambda job: summary.judges[job.judge.setup.judge_slug],
            concurrency=concurrency,
            label=label,
            progress=progress,
        )


def run_eval(
    project: Project,
    task: str | None,
    eval_slug: str,
    *,
    executor: str | Executor = "local",
    executor_address: str | None = None,
    **options: Any,
) -> EvalRunSummary:
    """`run_eval_async` from synchronous code, code judges on `executor` (a name of
    `kilngit.evals.executors.EXECUTORS` at `executor_address`, or an open `Executor`). Ctrl-C returns the
    summary with `interrupted` set."""
    summary = EvalRunSummary(project.task_slug(task), eval_slug)
    with open_executor(executor, executor_address) as opened:
        return run_sync(
            run_eval_async(project, task, eval_slug, summary=summary, executor=opened, **options), summary
        )


def check_evals(summaries: Sequence[EvalRunSummary]) -> None:
    """`Outcome.check` over several evals' summaries: the first interruption, then the first fatal failure,
    then all the work left together."""
    for s in summaries:
        if s.interrupted:
            s.check()
    for s in summaries:
        if s.fatal:
            s.check()
    left = [w for s in summaries if (w := s.work_left())]
    if left:
        raise WorkLeft(
            "; ".join(left), "run the same command again: finished results are skipped, the rest retried"
        )


def run_evals(
    project: Project,
    task: str | None,
    evals: Sequence[str] = (),
    *,
    executor: str | Executor = "local",
    executor_address: str | None = None,
    **options: Any,
) -> list[EvalRunSummary]:
    """Run several evals one after the other (default: every eval of the task), code judges on `executor`
    (as `run_eval`). Stops at an interruption or at a failure every further request would repeat."""
    task = project.task_slug(task)
    names = list(evals) or list(project.evals(task))
    if not names:
        raise NotFoundError(f"task {task!r} has no evals", f"create tasks/{task}/evals/<eval>/eval.yaml")
    out = []
    for name in names:
        find_eval(project, task, name)
    with open_executor(executor, executor_address) as opened:  # one connection to a cluster for all
        for name in names:
            summary = run_eval(project, task, name, executor=opened, **options)
            out.append(summary)
            if summary.interrupted or summary.fatal:
                break
    return out
