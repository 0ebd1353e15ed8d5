"""What `kilngit status` and `kilngit eval scores` need of one run, computed from that run alone.

    defs = task_defs(project, "ffmpeg")         # the task's evals, judges, filters, and their fingerprint
    row = run_row(state, results, defs)         # RunRow: flags, group, usage, per-eval membership, verdicts

A row is derived by the same code the commands use on whole listings (RunState, the eval filters, judge
hashes, `RunVerdict`, `group_of`), so aggregating rows gives what aggregating records gives. The local cache
keeps one row per run (`kilngit.cache.views`) and recomputes a run's row only when its run file, one of its
annotations or one of its judge results changed, and every row when a definition (`defs.fingerprint`) did.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from kilngit import layout
from kilngit.cache.code import code_digest
from kilngit.evals.items import group_of
from kilngit.evals.results import RunVerdict
from kilngit.filters import RunFilter
from kilngit.project import Project
from kilngit.records import Eval, Judge, JudgeResult
from kilngit.records.evals import judge_hash
from kilngit.state import RunState

Verdict = tuple[dict[str, float], dict[str, str]] | None
"""A run's current (scores, labels) from one judge, None when it has none."""


class RunRow(NamedTuple):
    """One run as status and the scoreboard see it."""

    run: str
    """The run's ID (as its record says)."""
    input: str
    """A digest of the input text (rows are compared by input, never shown)."""
    has_output: bool
    input_only: bool
    failed: bool
    rated: bool
    disputed: bool
    group: str
    config_hash: str | None
    usage: tuple[Any, Any, Any, Any] | None
    """(input_tokens, output_tokens, cost, latency_ms), None without usage."""
    source: tuple[str, str | None] | None
    """(model as the scoreboard names it, prompt) of the output's source, None without one."""
    truth: tuple[int, str | None]
    """The run's overall label consensus for the input's truth: (0, None) none or not annotated,
    (1, label) a majority label, (2, None) a disputed label."""
    evals: dict[str, tuple[bool, bool]]
    """eval -> (in its eval set, in its golden set)."""
    verdicts: dict[str, dict[str, tuple[dict[str, float], dict[str, str]]]]
    """eval -> judge -> (scores, labels) of the run's current results from that judge."""


@dataclass
class TaskDefs:
    """The definitions rows depend on, for one task."""

    task: str
    evals: dict[str, Eval]
    judges: dict[str, dict[str, Judge]]
    hashes: dict[str, dict[str, str]]
    """eval -> judge -> current definition hash."""
    filters: dict[str, tuple[RunFilter, RunFilter]]
    """eval -> (eval set filter, golden set filter)."""
    fingerprint: str


def task_defs(project: Project, task: str) -> TaskDefs:
    """The task's evals, judges and parsed filters (in the order the commands parse them), with a digest
    of every definition file of the task and of the code that derives rows."""
    evals = project.evals(task)
    judges = {slug: project.judges(task, slug) for slug in evals}
    hashes = {
        slug: {n: judge_hash(j, evals[slug], judges[slug]) for n, j in judges[slug].items()} for slug in evals
    }
    filters = {
        slug: (project.run_filter(task, ev.eval_set), project.run_filter(task, ev.golden_set))
        for slug, ev in evals.items()
    }
    return TaskDefs(
        task, evals, judges, hashes, filters, _fingerprint(project.root, task, project.layout_version)
    )


def run_row(state: RunState, results: dict[str, list[JudgeResult]], defs: TaskDefs) -> RunRow:
    """The row of one run; `results`: eval -> the run's judge results of that eval, in ID order."""
    run = state.run
    usage = run.usage
    source = run.output_source
    rating = state.rating if state.annotations else None
    if rating is None or rating.type != "label":
        truth: tuple[int, str | None] = (0, None)
    else:
        truth = (1, rating.label) if rating.label is not None else (2, None)
    verdicts: dict[str, dict[str, tuple[dict[str, float], dict[str, str]]]] = {}
    for slug in defs.evals:
        current: dict[str, RunVerdict] = {}
        for r in results.get(slug, []):
            if defs.hashes[slug].get(r.judge) == r.judge_hash:
                current.setdefault(r.judge, RunVerdict(r.run)).samples.setdefault(r.sample, []).append(r)
        if current:
            verdicts[slug] = {name: (v.scores(), v.labels()) for name, v in current.items()}
    return RunRow(
        run=run.id,
        input=input_digest(run.input),
        has_output=run.output is not None,
        input_only=run.input_only,
        failed=bool(run.error),
        rated=state.rated,
        disputed=state.disputed,
        group=group_of(run),
        config_hash=source.run_config_hash if source else None,
        usage=None
        if usage is None
        else (usage.input_tokens, usage.output_tokens, usage.cost, usage.latency_ms),
        source=None
        if source is None
        else (
            f"{source.provider}/{source.model}" if source.provider else (source.model or source.type),
            source.prompt,
        ),
        truth=truth,
        evals={slug: (f[0].matches(state), f[1].matches(state)) for slug, f in defs.filters.items()},
        verdicts=verdicts,
    )


def input_digest(text: str) -> str:
    """What rows compare inputs by (the text itself may be long)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


#: Modules whose code decides what a stored row holds: another version of any of them makes every row stale.
#: The refresh around them (`cache/views.py`, `cache/changes.py`, `cache/records.py`) only decides which rows
#: are recomputed, so a change there keeps the rows (a change of the tables or of what a stored row means
#: bumps `cache/views.SCHEMA`, which empties them): at 1M runs a recompute of every row takes minutes.
_CODE = (
    "run_rows.py",
    "state.py",
    "filters.py",
    "ratings.py",
    "evals/items.py",
    "evals/results.py",
    "cache/view_rows.py",
    "cache/view_files.py",
    "load.py",
    "kinds.py",
    "layout.py",
)


def _fingerprint(root: Path, task: str, version: int) -> str:
    """A digest of the task's definition files (everything under its folder but runs, annotations, judge
    results, fine-tunes and queued jobs), the folder layout and the code that derives rows."""
    h = code_digest(f"rows 1\nlayout {version}\n", _CODE)
    base = root / layout.task_dir(task)
    for relpath in _definition_files(base):
        h.update(relpath.encode() + b"\0" + _bytes(base / relpath) + b"\0")
    return h.hexdigest()[:32]


_SKIP = {"runs", "annotations", "results", "finetunes", "queue"}


def _definition_files(base: Path) -> list[str]:
    out: list[str] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        rel = os.path.relpath(folder, base)
        out += [f if rel == "." else f"{rel}/{f}" for f in sorted(files) if not f.startswith(".")]
    return out


def _bytes(path: Path) -> bytes:
    """The bytes of a regular file (a symlink or a FIFO in a repository is not followed: b"?")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b"?"
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read() if stat.S_ISREG(os.fstat(fd).st_mode) else b"?"
        except OSError:
            return b"?"
