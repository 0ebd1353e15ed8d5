"""A kilngit project on disk: find it, read its records (lazily, cached), and write records atomically.

    project = Project.find(".")
    task = project.task("ffmpeg")
    runs = project.runs("ffmpeg")          # {id: TaskRun}
    project.write_record(annotation)       # path derived from (rater, run); no-op when unchanged
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from kilngit import layout
from kilngit._io import ReadError, atomic_write, check_no_symlinks, dump_yaml
from kilngit.errors import (
    AmbiguousIdError,
    InvalidRecordError,
    KilngitError,
    NotFoundError,
    ProjectNotFoundError,
)
from kilngit.filters import RunFilter, parse_filter
from kilngit.load import Parsed, Problem, parse_record
from kilngit.records import (
    Annotation,
    DatasetSplit,
    Eval,
    FineTune,
    FineTuneMetrics,
    FineTuneRound,
    FineTuneStatus,
    Judge,
    JudgeResult,
    ProjectManifest,
    Prompt,
    Record,
    RunConfig,
    SplitMembership,
    Task,
    TaskRun,
)
from kilngit.records.base import Definition
from kilngit.state import RunState, run_states

R = TypeVar("R", bound=Record)


def schema_header(kind: str, relpath: str) -> str:
    """The `yaml-language-server` comment pointing an editor at the kind's JSON Schema."""
    depth = relpath.count("/")
    prefix = "../" * depth
    return f"# yaml-language-server: $schema={prefix}{layout.LOCAL_STATE}/schema/{kind}.schema.json\n"


class Project:
    """A project rooted at the folder holding `kilngit.yaml`. Reads are cached; writes update the cache."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).absolute()
        if not (self.root / layout.MANIFEST).is_file():
            raise ProjectNotFoundError(f"{self.root} is not a kilngit project (no {layout.MANIFEST})",
                                       "run `kilngit init` there, or pass -C PATH")
        #: Problems met while loading (invalid files are skipped, not fatal, except in `validate`).
        self.problems: list[Problem] = []
        self._cache: dict[tuple[str, ...], Any] = {}

    @classmethod
    def find(cls, start: str | Path = ".") -> Project:
        """The project containing `start` (searching parent folders like git does)."""
        here = Path(os.path.abspath(start))  # normalized: the parents of `a/../..` are not `a`
        for folder in (here, *here.parents):
            if (folder / layout.MANIFEST).is_file():
                return cls(folder)
        raise ProjectNotFoundError(f"no kilngit project at {here} or any parent folder",
                                   "run `kilngit init`, or pass -C PATH to point at a project")

    # ---- reading -------------------------------------------------------------------------------------

    @cached_property
    def manifest(self) -> ProjectManifest:
        return self._load_one(layout.MANIFEST, ProjectManifest)

    def read(self, relpath: str) -> Parsed:
        """Parse one file of the project (no caching)."""
        return parse_record(self.root, relpath)

    def _load_one(self, relpath: str, model: type[R]) -> R:
        parsed = self.read(relpath)
        errors = [p for p in parsed.problems if p.severity == "error"]
        if parsed.record is None or errors:
            p = errors[0]
            raise InvalidRecordError(p.path, p.message, p.pointer, p.fix)
        assert isinstance(parsed.record, model)
        return parsed.record

    def _load_dir(self, key: tuple[str, ...], relglob: str, model: type[R], depth: int = 1) -> list[R]:
        """Load every record under a folder, skipping invalid ones (their problems go to `self.problems`)."""
        if key in self._cache:
            return self._cache[key]
        out: list[R] = []
        for relpath in self._walk(relglob, depth):
            parsed = parse_record(self.root, relpath, full=False)
            self.problems += parsed.problems
            if parsed.record is not None and not any(p.severity == "error" for p in parsed.problems):
                out.append(parsed.record)  # type: ignore[arg-type]
        self._cache[key] = out
        return out

    def _walk(self, reldir: str, depth: int) -> Iterator[str]:
        """Relative paths of the record files `depth` folders below `reldir` (hidden files skipped)."""
        base = self.root / reldir
        if not base.is_dir():
            return
        stack = [(base, reldir, 0)]
        while stack:
            folder, rel, level = stack.pop()
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if level < depth - 1:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((Path(entry.path), f"{rel}/{entry.name}", level + 1))
                elif entry.name.endswith((".json", ".yaml")):
                    yield f"{rel}/{entry.name}"

    def _definitions(self, key: tuple[str, ...], reldir: str, model: type[R], suffix: str = ".yaml") -> dict[str, R]:
        if key in self._cache:
            return self._cache[key]
        out: dict[str, R] = {}
        base = self.root / reldir
        if base.is_dir():
            for name in sorted(os.listdir(base)):
                if name.endswith(suffix) and not name.startswith(".") and name.count(".") == suffix.count("."):
                    out[name[: -len(suffix)]] = self._load_or_note(f"{reldir}/{name}", model)
        result = {k: v for k, v in out.items() if v is not None}
        self._cache[key] = result
        return result

    def _load_or_note(self, relpath: str, model: type[R]) -> R | None:
        parsed = self.read(relpath)
        self.problems += parsed.problems
        if parsed.record is None or any(p.severity == "error" for p in parsed.problems):
            return None
        return parsed.record  # type: ignore[return-value]

    def tasks(self) -> dict[str, Task]:
        """Every task, by slug."""
        if ("tasks",) not in self._cache:
            base = self.root / "tasks"
            out = {}
            for name in sorted(os.listdir(base)) if base.is_dir() else []:
                if (base / name / "task.yaml").is_file():
                    rec = self._load_or_note(layout.task_file(name), Task)
                    if rec is not None:
                        out[name] = rec
            self._cache[("tasks",)] = out
        return self._cache[("tasks",)]

    def task(self, slug: str | None = None) -> Task:
        """The task called `slug`; with None, the project's only task (an error when there are several)."""
        return self.tasks()[self.task_slug(slug)]

    def task_slug(self, slug: str | None = None) -> str:
        """Resolve an optional task slug: None means "the only task"."""
        tasks = self.tasks()
        if slug is None:
            if len(tasks) == 1:
                return next(iter(tasks))
            raise NotFoundError("this project has several tasks" if tasks else "this project has no task yet",
                                f"name one of: {', '.join(tasks)}" if tasks else "create one: kilngit task new SLUG")
        if slug not in tasks:
            raise NotFoundError(f"no task {slug!r}", f"known tasks: {', '.join(tasks) or 'none'}")
        return slug

    def prompts(self, task: str) -> dict[str, Prompt]:
        return self._definitions(("prompts", task), f"tasks/{task}/prompts", Prompt)

    def run_configs(self, task: str) -> dict[str, RunConfig]:
        return self._definitions(("run_configs", task), f"tasks/{task}/run_configs", RunConfig)

    def evals(self, task: str) -> dict[str, Eval]:
        key = ("evals", task)
        if key not in self._cache:
            base = self.root / "tasks" / task / "evals"
            out = {}
            for name in sorted(os.listdir(base)) if base.is_dir() else []:
                if (base / name / "eval.yaml").is_file():
                    rec = self._load_or_note(layout.eval_file(task, name), Eval)
                    if rec is not None:
                        out[name] = rec
            self._cache[key] = out
        return self._cache[key]

    def judges(self, task: str, eval_slug: str) -> dict[str, Judge]:
        return self._definitions(("judges", task, eval_slug), f"{layout.eval_dir(task, eval_slug)}/judges", Judge)

    def splits(self, task: str) -> dict[str, DatasetSplit]:
        return self._definitions(("splits", task), f"tasks/{task}/splits", DatasetSplit)

    def split_membership(self, task: str, split: str) -> SplitMembership | None:
        path = layout.split_membership_file(task, split)
        return self._load_or_note(path, SplitMembership) if (self.root / path).is_file() else None

    def finetunes(self, task: str) -> dict[str, FineTune]:
        key = ("finetunes", task)
        if key not in self._cache:
            base = self.root / "tasks" / task / "finetunes"
            out = {}
            for name in sorted(os.listdir(base)) if base.is_dir() else []:
                if (base / name / "finetune.yaml").is_file():
                    rec = self._load_or_note(layout.finetune_file(task, name), FineTune)
                    if rec is not None:
                        out[name] = rec
            self._cache[key] = out
        return self._cache[key]

    def finetune_status(self, task: str, slug: str) -> FineTuneStatus | None:
        path = layout.finetune_status_file(task, slug)
        return self._load_or_note(path, FineTuneStatus) if (self.root / path).is_file() else None

    def finetune_rounds(self, task: str, slug: str) -> dict[int, FineTuneRound]:
        """The finished rounds of a fine-tune's eval-driven loop, by round number (not cached: the loop writes
        them while it runs)."""
        rounds = [self._load_or_note(p, FineTuneRound)
                  for p in self._walk(f"tasks/{task}/finetunes/{slug}/rounds", 1)]
        return {r.round: r for r in sorted((r for r in rounds if r is not None), key=lambda r: r.round)}

    def finetune_metrics(self, task: str, slug: str) -> list[FineTuneMetrics]:
        """A fine-tune's per-step metrics files, in step order (not cached: the runner writes them as it goes)."""
        chunks = [self._load_or_note(p, FineTuneMetrics)
                  for p in self._walk(f"tasks/{task}/finetunes/{slug}/metrics", 1)]
        return sorted((c for c in chunks if c is not None), key=lambda c: c.first_step)

    def runs(self, task: str) -> dict[str, TaskRun]:
        """Every valid run of `task`, by ID."""
        key = ("runs_by_id", task)
        if key not in self._cache:
            runs = self._load_dir(("runs", task), f"tasks/{task}/runs", TaskRun, depth=2)
            self._cache[key] = {r.id: r for r in runs}
        return self._cache[key]

    def annotations(self, task: str) -> list[Annotation]:
        """Every valid annotation of `task` (all raters)."""
        return self._load_dir(("annotations", task), f"tasks/{task}/annotations", Annotation, depth=3)

    def judge_results(self, task: str, eval_slug: str) -> list[JudgeResult]:
        """Every valid judge result of an eval (all judges, current and stale)."""
        return self._load_dir(("results", task, eval_slug), f"{layout.eval_dir(task, eval_slug)}/results",
                              JudgeResult, depth=3)

    def states(self, task: str) -> dict[str, RunState]:
        """Every run of `task` joined with its annotations (effective tags, consensus ratings)."""
        key = ("states", task)
        if key not in self._cache:
            self._cache[key] = run_states(self.runs(task), self.annotations(task))
        return self._cache[key]

    def run_filter(self, task: str, text: str) -> RunFilter:
        """Parse a run filter whose `split::` terms read this task's materialized splits."""

        def split_members(name: str, part: str) -> frozenset[str]:
            membership = self.split_membership(task, name)
            if membership is None:
                raise NotFoundError(f"split {name!r} of task {task!r} has no frozen membership yet",
                                    f"materialize it: kilngit split materialize {name}")
            if part not in membership.parts:
                raise NotFoundError(f"split {name!r} has no part {part!r}",
                                    f"parts: {', '.join(sorted(membership.parts))}")
            return frozenset(membership.parts[part])

        return parse_filter(text, split_members)

    def select(self, task: str, text: str) -> list[RunState]:
        """The runs of `task` matching a filter, in ID order."""
        flt = self.run_filter(task, text)
        return [s for _, s in sorted(self.states(task).items()) if flt.matches(s)]

    def resolve_run(self, task: str, prefix: str) -> TaskRun:
        """The run whose ID starts with `prefix` (git-style unambiguous prefixes, at least 4 characters)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4:
            raise NotFoundError(f"run ID prefix {prefix!r} is too short", "give at least 4 characters")
        matches = [r for rid, r in self.runs(task).items() if rid.startswith(prefix)]
        if not matches:
            raise NotFoundError(f"no run of task {task!r} has an ID starting with {prefix!r}",
                                "list runs with `kilngit status` or check the task")
        if len(matches) > 1:
            raise AmbiguousIdError(f"run ID prefix {prefix!r} is ambiguous ({len(matches)} runs)",
                                   "candidates: " + ", ".join(sorted(r.id for r in matches)[:10]))
        return matches[0]

    # ---- writing -------------------------------------------------------------------------------------

    def write_record(self, record: Record) -> Path:
        """Write a machine or owned record at the path its identity implies. Returns the path.

        Content-addressed records get their ID here. Unchanged bytes are not rewritten."""
        record, relpath, data = self.record_file(record)
        atomic_write(self.writable(relpath), data)
        self.remember(record)
        return self.root / relpath

    def record_file(self, record: Record) -> tuple[Record, str, bytes]:
        """What `write_record` writes: the record (with its content ID), its path in the project, its bytes."""
        from kilngit.records import MachineRecord

        if isinstance(record, MachineRecord) and not record.id:
            record = record.with_id()
        return record, layout.record_path(record), record.to_bytes()  # type: ignore[attr-defined]

    def write_definition(self, relpath: str, record: Definition) -> Path:
        """Write a YAML definition; if the file exists, edit it in place so comments and key order survive."""
        path = self.writable(relpath)
        existing = path.read_text(encoding="utf-8") if path.is_file() else None
        data = definition_data(record)
        atomic_write(path, dump_yaml(data, schema_header(record.kind, relpath), existing))
        self._cache.clear()  # definitions are few; re-reading them is cheap
        return path

    def writable(self, relpath: str) -> Path:
        """The path to write `relpath` at, after checking that no folder on the way is a symlink (which could
        point outside the project) and that nothing but a regular file is in the way."""
        try:
            check_no_symlinks(self.root, relpath)
        except ReadError as e:
            raise KilngitError(f"cannot write {relpath}: {e}", e.fix) from e
        return self.root / relpath

    def delete(self, relpath: str) -> None:
        """Remove a file (e.g. an annotation emptied by its owner)."""
        (self.root / relpath).unlink(missing_ok=True)
        located = layout.classify(relpath)
        if located is not None and located.kind == "annotation":
            self._replace_annotation(located.params["task"], located.params["rater"], located.params["run"], None)
        else:
            self._cache.clear()

    def forget(self, what: str, task: str | None = None, eval_slug: str | None = None) -> None:
        """Drop cached reads that changes made on disk by someone else have made stale: the "runs" or
        "annotations" of a task, the "results" of an eval, or "definitions" (everything else)."""
        if what == "runs":
            keys = [("runs", task), ("runs_by_id", task), ("states", task)]
        elif what == "annotations":
            keys = [("annotations", task), ("states", task)]
        elif what == "results":
            keys = [("results", task, eval_slug)]
        elif what == "definitions":
            keys = [k for k in self._cache if k[0] not in _BULK]
            self.__dict__.pop("manifest", None)
        else:
            raise ValueError(f"cannot forget {what!r}")
        for key in keys:
            self._cache.pop(key, None)

    def remember(self, record: Record) -> None:
        """Bring the cached reads up to date with a record just written (by this object or for it)."""
        d = record.__dict__
        if record.kind == "task_run":
            self._cache.pop(("states", d["task"]), None)
            self._cache.get(("runs_by_id", d["task"]), {})[d["id"]] = record
        elif record.kind == "annotation":
            self._replace_annotation(d["task"], layout.rater_dir(d["rater"]), d["run"], record)  # type: ignore[arg-type]
        elif record.kind == "judge_result":
            key = ("results", d["task"], d["eval"])
            if key in self._cache and all(r.id != d["id"] for r in self._cache[key]):
                self._cache[key].append(record)


    def _replace_annotation(self, task: str, rater_dir: str, run: str, record: Annotation | None) -> None:
        """Put one rater's annotation of one run (None: it was deleted) into the cached reads, in place, so a
        label written at 100k runs does not recompute every run's state."""
        def other(a: Annotation) -> bool:
            return a.run != run or layout.rater_dir(a.rater) != rater_dir

        items = self._cache.get(("annotations", task))
        if items is not None:  # in place: no copy of a list of 100k annotations per label
            found = next((i for i, a in enumerate(items) if not other(a)), None)
            if found is not None and record is not None:
                items[found] = record
            elif found is not None:
                del items[found]
            elif record is not None:
                items.append(record)
        state = self._cache.get(("states", task), {}).get(run)
        if state is not None:
            kept = [a for a in state.annotations if other(a)] + ([record] if record else [])
            state.annotations = sorted(kept, key=lambda a: a.rater)


#: Cache keys of the bulk collections `forget("definitions")` keeps.
_BULK = ("runs", "runs_by_id", "annotations", "results", "states")


def definition_data(record: Definition) -> dict[str, Any]:
    """Definition fields in model order, kind and v first, defaults left out to keep hand-edited files short."""
    data = record.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return {"kind": record.kind, "v": record.v, **{k: v for k, v in data.items() if k not in ("kind", "v")}}
