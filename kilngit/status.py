"""`kilngit status`: counts per kind per task, rated / unrated, problems, and pending work."""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from kilngit.cache.index import one_sync
from kilngit.cache.view_queries import View
from kilngit.cache.views import open_view
from kilngit.errors import KilngitError
from kilngit.project import Project
from kilngit.providers.batch_jobs import batches_in_progress
from kilngit.records.evals import judge_hash
from kilngit.run_rows import task_defs


@dataclass
class EvalStatus:
    eval: str
    judges: int
    eval_set: int
    golden_set: int
    results: int
    stale_results: int
    missing: int
    """Eval-set runs with an output but no current result from the default judge (pending work)."""


@dataclass
class TaskStatus:
    task: str
    prompts: int
    run_configs: int
    runs: int
    input_only: int
    failed: int
    rated: int
    unrated: int
    disputed: int
    annotations_by_rater: dict[str, int]
    evals: list[EvalStatus] = field(default_factory=list)


@dataclass
class ProjectStatus:
    name: str
    tasks: list[TaskStatus]
    problems: int
    batches: list[dict[str, Any]] = field(default_factory=list)
    """Batch API jobs still open (the same `run ... --batch` resumes them; `kilngit watch` follows them)."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def project_status(project: Project) -> ProjectStatus:
    """Summarize every task of the project (from the local cache's per-run rows when it has them)."""
    tasks, problems = [], 0
    with one_sync():  # every task's view from one answer of git
        for slug in project.tasks():
            # Read while git runs (the view waits for its answer); cached for the counts below.
            project.prompts(slug), project.run_configs(slug)
            view = _view(project, slug)
            if view is None:
                tasks.append(_task_status(project, slug))
                continue
            try:
                numbers = view.numbers(list(project.evals(slug)))
            finally:
                view.close()
            tasks.append(_status_from_view(project, slug, numbers))
            problems += numbers["problems"]
    return ProjectStatus(
        project.manifest.name, tasks, len(project.problems) + problems, batches_in_progress(project)
    )


def _view(project: Project, task: str) -> View | None:
    """The task's per-run rows, or None (then `_task_status` reads the records, and meets the definitions'
    problems, or a filter's error, exactly where it always did)."""
    mark = project.mark()
    view = None
    with contextlib.suppress(KilngitError):  # e.g. a filter naming a split not materialized yet
        view = open_view(project, task, task_defs(project, task))
    if view is None:
        project.forget_since(mark)
    return view


def _status_from_view(project: Project, task: str, numbers: dict[str, Any]) -> TaskStatus:
    """`_task_status` from the per-run rows' counts (`View.numbers`), without reading every record."""
    counts = numbers["counts"]
    status = TaskStatus(
        task=task,
        prompts=len(project.prompts(task)),
        run_configs=len(project.run_configs(task)),
        runs=counts["runs"],
        input_only=counts["input_only"],
        failed=counts["failed"],
        rated=counts["rated"],
        unrated=counts["with_output"] - counts["rated"],
        disputed=counts["disputed"],
        annotations_by_rater=numbers["annotations_by_rater"],
    )
    for slug, ev in project.evals(task).items():
        judges = project.judges(task, slug)
        current = {name: judge_hash(j, ev, judges) for name, j in judges.items()}
        results = numbers["results"][slug]
        stale = sum(n for judge, jhash, n in results if current.get(judge) != jhash)
        members = numbers["members"][slug]
        missing = members["missing"] if ev.default_judge else 0
        status.evals.append(
            EvalStatus(
                slug,
                len(judges),
                members["eval_set"],
                members["golden_set"],
                sum(n for _, _, n in results),
                stale,
                missing,
            )
        )
    return status


def _task_status(project: Project, task: str) -> TaskStatus:
    runs = project.runs(task)
    annotations = project.annotations(task)
    states = project.states(task)
    with_output = [s for s in states.values() if s.run.output is not None]
    rated = sum(1 for s in with_output if s.rated)
    status = TaskStatus(
        task=task,
        prompts=len(project.prompts(task)),
        run_configs=len(project.run_configs(task)),
        runs=len(runs),
        input_only=sum(1 for r in runs.values() if r.input_only),
        failed=sum(1 for r in runs.values() if r.error),
        rated=rated,
        unrated=len(with_output) - rated,
        disputed=sum(1 for s in states.values() if s.disputed),
        annotations_by_rater=dict(sorted(Counter(a.rater for a in annotations).items())),
    )
    for slug, ev in project.evals(task).items():
        judges = project.judges(task, slug)
        eval_set = project.select(task, ev.eval_set)
        golden = project.select(task, ev.golden_set)
        results = project.judge_results(task, slug)
        current = {name: judge_hash(j, ev, judges) for name, j in judges.items()}
        stale = sum(1 for r in results if current.get(r.judge) != r.judge_hash)
        done = {
            r.run
            for r in results
            if ev.default_judge
            and r.judge == ev.default_judge
            and r.judge_hash == current.get(ev.default_judge)
        }
        missing = (
            sum(1 for s in eval_set if s.run.output is not None and s.id not in done)
            if ev.default_judge
            else 0
        )
        status.evals.append(
            EvalStatus(slug, len(judges), len(eval_set), len(golden), len(results), stale, missing)
        )
    return status
