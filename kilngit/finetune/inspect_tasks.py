"""Inspect AI interop: an eval set as an Inspect dataset, and an Inspect task scoring a run config's model.

    data = inspect_dataset(project, "ffmpeg", "quality")      # bytes: one Inspect Sample per line (JSONL)
    score = run_inspect(project, "ffmpeg", "inspect:evals/ffmpeg.py", "ft-qwen-r1")

A sample is one eval input: `input` is the run input, `target` the answer people stand behind, from the
runs with that input: the human truth (`kilngit.evals.truth`: the raters' reference answer, else their
repaired output, else the consensus label), else the output of the best run whose consensus rating passes
(normalized >= 0.5). Inputs with none of these are left out (a scorer would count anything as matching an empty
target). `metadata` says where the target came from and which run it is about.

`run_inspect` runs the task (a file, `file.py@task`, or a registered name, exactly as `inspect eval` takes
it) with Inspect's `openai-api` provider against the run config's provider: its base URL and the name of
its key's environment variable come from the provider settings, so the key never enters Inspect's log. The
task file is code: it runs in this process, so name only files you trust. Needs `pip install kilngit[inspect]`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.evals.items import eval_items
from kilngit.evals.results import find_eval
from kilngit.evals.truth import truth_of
from kilngit.project import Project
from kilngit.providers.config import provider_settings
from kilngit.ratings import normalize
from kilngit.state import RunState

PREFIX = "inspect:"
PASSING = 0.5


@dataclass(frozen=True)
class InspectExport:
    """The dataset's bytes, how many samples it has, and the eval inputs left out (no target)."""

    data: bytes
    samples: int
    without_target: int


def _target(states: list[RunState]) -> tuple[str, str, str] | None:
    """(target, where it came from, run ID) for the runs of one input, or None."""
    truth = truth_of(states)  # the raters' reference (else repaired output) and consensus label
    if truth.reference:
        source = next((s for s in states if truth.reference in (s.reference, s.repaired_output)), states[0])
        return truth.reference, "reference" if source.reference else "repaired_output", source.id
    if truth.label:
        return truth.label, "consensus_label", next(s.id for s in states if s.rating and s.rating.label)
    rated = [
        (normalize(c.value, c.type), s)
        for s in states
        if s.run.output and (c := s.rating) is not None and c.value is not None and not c.disputed
    ]
    good = [(v, s) for v, s in rated if v >= PASSING]
    if good:
        _, best = max(good, key=lambda vs: vs[0])
        return str(best.run.output), "consensus_rating", best.id
    return None


def inspect_dataset(project: Project, task: str | None, eval_slug: str) -> InspectExport:
    """The eval set of `eval_slug` as Inspect samples (JSONL: id, input, target, metadata)."""
    task = project.task_slug(task)
    ev = find_eval(project, task, eval_slug)
    items = eval_items(project, task, ev)
    by_input: dict[str, list[RunState]] = {}
    for s in items.eval_set:
        by_input.setdefault(s.run.input, []).append(s)
    everything = project.states(task)
    for s in everything.values():  # other runs on the same input carry ratings too
        if s.run.input in by_input and s not in by_input[s.run.input]:
            by_input[s.run.input].append(s)
    lines, missing = [], 0
    for text, states in by_input.items():
        found = _target(states)
        if found is None:
            missing += 1
            continue
        target, source, run = found
        sample = {
            "id": states[0].id,
            "input": text,
            "target": target,
            "metadata": {
                "task": task,
                "eval": eval_slug,
                "run": run,
                "target_source": source,
                "tags": sorted(states[0].tags),
            },
        }
        lines.append(json.dumps(sample, ensure_ascii=False, sort_keys=True) + "\n")
    return InspectExport("".join(lines).encode(), len(lines), missing)


@dataclass(frozen=True)
class InspectScore:
    """What an Inspect task measured: every metric, the headline number, samples scored."""

    task: str
    scorer: str | None
    scores: dict[str, float]
    score: float | None
    items: int


def task_spec(eval_ref: str) -> str | None:
    """The Inspect task of an `--eval` value `inspect:PATH_OR_NAME`, or None for a kilngit eval."""
    if not eval_ref.startswith(PREFIX):
        return None
    spec = eval_ref[len(PREFIX) :].strip()
    if not spec:
        raise UsageError(
            "--eval inspect: names no task",
            "write inspect:PATH.py, inspect:PATH.py@TASK or inspect:REGISTERED_NAME",
        )
    return spec


def run_inspect(project: Project, task: str, eval_ref: str, run_config: str) -> InspectScore:
    """Run the Inspect task of `eval_ref` on the model of `run_config`; see the module docstring."""
    spec = task_spec(eval_ref) or eval_ref
    try:
        import inspect_ai
    except ImportError:
        raise UsageError(
            "an Inspect task needs the inspect-ai package", "pip install 'kilngit[inspect]'"
        ) from None
    config = project.run_configs(task).get(run_config)
    if config is None:
        raise UsageError(f"task {task!r} has no run config {run_config!r}", "check the fine-tune's status")
    settings = provider_settings(config.provider)
    if not settings.base_url:
        raise ProviderError(
            f"provider {config.provider!r} has no base URL for Inspect to call",
            f"set KILNGIT_PROVIDER_{config.provider.upper()}_BASE_URL",
        )
    args: dict[str, Any] = (
        {"api_key_var": settings.api_key_env} if settings.api_key_env else {"api_key": "none"}
    )
    # Task files are named relative to the project root (Inspect takes relative paths only).
    with tempfile.TemporaryDirectory(prefix="kilngit-inspect-") as logs, contextlib.chdir(project.root):
        try:
            (log,) = inspect_ai.eval(
                spec,
                model=f"openai-api/{config.provider}/{config.model}",
                model_base_url=settings.base_url,
                model_args=args,
                log_dir=logs,
                display="none",
                log_samples=False,
            )
        except Exception as e:  # Inspect raises plain exceptions for unknown tasks, models, bad files
            raise UsageError(
                f"Inspect could not run {spec!r}: {type(e).__name__}: {e}",
                "check the task with: inspect eval " + spec,
            ) from e
    if log.status != "success" or log.results is None:
        message = log.error.message if log.error else log.status
        raise ProviderError(
            f"the Inspect task {spec!r} on {run_config!r} did not finish: {message}",
            "fix the cause and re-run the loop: it resumes this round",
        )
    return _score(spec, log.results)


def _score(spec: str, results: Any) -> InspectScore:
    scores: dict[str, float] = {}
    for s in results.scores:
        for name, metric in s.metrics.items():
            key = name if len(results.scores) == 1 else f"{s.name}.{name}"
            scores[key] = float(metric.value)
    first = results.scores[0] if results.scores else None
    headline = None
    if first is not None:
        metric = (
            first.metrics.get("accuracy")
            or first.metrics.get("mean")
            or next(iter(first.metrics.values()), None)
        )
        headline = float(metric.value) if metric is not None else None
    return InspectScore(spec, first.name if first else None, scores, headline, results.completed_samples)
