"""A kilngit project on disk: find it, read its records (lazily, cached), and write records atomically.

project = Project.find(".")
task = project.task("ffmpeg")
runs = project.runs("ffmpeg")          # {id: TaskRun}
project.write_record(annotation)       # path derived from (rater, run); no-op when unchanged
"""

from __future__ import annotations

import os
import re
import sys
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kilngit import layout
from kilngit._io import ReadError, atomic_write, check_no_symlinks, dump_yaml
from kilngit.cache.index import TASKS, sync
from kilngit.cache.records import read_listing
from kilngit.errors import (
    AmbiguousIdError,
    GitError,
    InvalidRecordError,
    KilngitError,
    NewerFormatError,
    NotFoundError,
    ProjectNotFoundError,
    did_you_mean,
)
from kilngit.filters import RunFilter, parse_filter
from kilngit.kinds import KINDS, Kind
from kilngit.load import Parsed, Problem, parse_record
from kilngit.records import (
    Annotation,
    Eval,
    Judge,
    JudgeResult,
    MachineRecord,
    ProjectManifest,
    Prompt,
    Record,
    RunConfig,
    Task,
    TaskRun,
)
from kilngit.records.base import Definition
from kilngit.records.sharing import Sharing
from kilngit.state import RunState, run_states

if TYPE_CHECKING:  # kinds few commands read: their models are imported when first listed (kilngit.kinds)
    from kilngit.records import (
        DatasetSplit,
        FineTune,
        FineTuneMetrics,
        FineTuneRound,
        FineTuneStatus,
        SplitMembership,
    )

R = TypeVar("R", bound=Record)


def schema_header(kind: str, relpath: str) -> str:
    """The `yaml-language-server` comment pointing an editor at the kind's JSON Schema, in the project's
    committed `schema/` folder (so completion works in every clone, not only the one that ran `init`)."""
    depth = relpath.count("/")
    prefix = "../" * depth
    return f"# yaml-language-server: $schema={prefix}{layout.SCHEMA_DIR}/{kind}.schema.json\n"


class Project:
    """A project rooted at the folder holding `kilngit.yaml`. Reads are cached; writes update the cache."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).absolute()
        if not (self.root / layout.MANIFEST).is_file():
            raise ProjectNotFoundError(
                f"{self.root} is not a kilngit project (no {layout.MANIFEST})",
                "run `kilngit init` there, or pass -C PATH",
            )
        #: Problems met while loading (invalid files are skipped, not fatal, except in `validate`).
        self.problems: list[Problem] = []
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._sharing = Sharing()

    @classmethod
    def find(cls, start: str | Path = ".") -> Project:
        """The project containing `start` (searching parent folders like git does)."""
        here = Path(os.path.abspath(start))  # normalized: the parents of `a/../..` are not `a`
        for folder in (here, *here.parents):
            if (folder / layout.MANIFEST).is_file():
                return cls(folder)
        raise ProjectNotFoundError(
            f"no kilngit project at {here} or any parent folder",
            "run `kilngit init`, or pass -C PATH to point at a project",
        )

    # ---- reading -------------------------------------------------------------------------------------

    @cached_property
    def manifest(self) -> ProjectManifest:
        return self._load_one(layout.MANIFEST, ProjectManifest)

    @cached_property
    def layout_version(self) -> int:
        """The folder layout of the project's files (`layout` in kilngit.yaml), which reads follow. A layout
        newer than this kilngit knows is refused; with an unreadable manifest (reported by `validate`), the
        current one."""
        try:
            version = self.manifest.layout
        except NewerFormatError:
            raise
        except InvalidRecordError:
            return layout.LAYOUT
        layout.check_layout(version, writing=False)
        return version

    def require_writable(self) -> None:
        """Refuse to write into a project of an older layout (`OldLayoutError`: run `kilngit migrate`)."""
        layout.check_layout(self.layout_version, writing=True)

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

    def records(self, kind: str, **scope: str) -> dict[Any, Any]:
        """The valid records of `kind` under the path parts its kinds-table entry lists by (`scope`, e.g. task=),
        keyed by the remaining part (or a tuple of them). Invalid files are skipped and their problems noted.

        Cached per scope, except for `live` kinds (written while commands run), which are read afresh. Bulk
        (sharded) kinds are read through the local cache of checked files (`kilngit.cache`)."""
        kind_ = KINDS[kind]
        if set(scope) != set(kind_.scope):
            raise TypeError(
                f"{kind} records are listed by {', '.join(kind_.scope) or 'nothing'}, not {set(scope)}"
            )
        key = (kind, *(scope[p] for p in kind_.scope))
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        out: dict[Any, Any] = {}
        candidates = self.candidates(kind_, scope)
        listing = (
            # Bulk kinds share equal parts between records, so a million of them fit in memory.
            read_listing(self.root, kind, candidates, self.layout_version, self._sharing.record)
            if kind_.sharded
            else (parse_record(self.root, relpath) for relpath in candidates)
        )
        key_parts = kind_.key  # computed by the kinds table on each call: once per listing, not per record
        # A record naming a run holds the run's own ID string when the runs are loaded (not a copy of it).
        runs = (
            self._cache.get(("task_run", scope.get("task"))) if kind_.sharded and kind != "task_run" else None
        )
        for parsed in listing:
            self.problems += parsed.problems
            record = parsed.record
            if record is not None and not any(p.severity == "error" for p in parsed.problems):
                at = _listing_key(kind_, parsed.params, key_parts)
                if runs:
                    _same_run(record, runs)
                out[_shared_key(at, record) if kind_.sharded else at] = record
        if not kind_.live:
            self._cache[key] = out
        return out

    def candidates(self, kind: Kind, scope: dict[str, str], version: int | None = None) -> list[str]:
        """The files that may hold `kind` records within `scope`, in path order: every file at the template's
        depth whose name has the template's suffix (hidden files skipped; the rest is `parse_record`'s to judge).
        `version`: the layout whose template to follow (by default the project's)."""
        blank = _BLANK
        filler = blank * 64  # shard folders take slices of it, so each holds a blank too
        parts = {**scope, **{p: filler for p in kind.parts if p not in scope}}
        steps = re.sub(f"{blank}+", blank, kind.fill(parts, version or self.layout_version)).split("/")
        if kind.sharded:  # a bulk kind's folders are tens of thousands: git lists their files at once
            listed = _listed(self.root, steps)
            if listed is not None:
                return listed
        found = [""]
        root = f"{self.root}/"  # plain strings: at a million records this walks 65,000 folders
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            if blank not in step:
                found = [
                    f + step
                    for f in found
                    if (os.path.isfile(root + f + step) if last else os.path.isdir(root + f + step))
                ]
            else:
                suffix = step[step.rindex(blank) + 1 :]
                found = [
                    f + name
                    for f in found
                    for name, is_dir in _listdir(root + f)
                    if (name.endswith(suffix) and name.count(".") == suffix.count(".") if last else is_dir)
                ]
            if not last:
                found = [f + "/" for f in found]
        return found

    def tasks(self) -> dict[str, Task]:
        """Every task, by slug."""
        return self.records("task")

    def task(self, slug: str | None = None) -> Task:
        """The task called `slug`; with None, the project's only task (an error when there are several)."""
        return self.tasks()[self.task_slug(slug)]

    def task_slug(self, slug: str | None = None) -> str:
        """Resolve an optional task slug: None means "the only task"."""
        tasks = self.tasks()
        if slug is None:
            if len(tasks) == 1:
                return next(iter(tasks))
            raise NotFoundError(
                "this project has several tasks" if tasks else "this project has no task yet",
                f"name one of: {', '.join(tasks)}" if tasks else "create one: kilngit task new SLUG",
            )
        if slug not in tasks:
            raise NotFoundError(
                f"no task {slug!r}", f"{did_you_mean(slug, tasks)}known tasks: {', '.join(tasks) or 'none'}"
            )
        return slug

    def prompts(self, task: str) -> dict[str, Prompt]:
        return self.records("prompt", task=task)

    def run_configs(self, task: str) -> dict[str, RunConfig]:
        return self.records("run_config", task=task)

    def evals(self, task: str) -> dict[str, Eval]:
        return self.records("eval", task=task)

    def judges(self, task: str, eval_slug: str) -> dict[str, Judge]:
        return self.records("judge", task=task, eval=eval_slug)

    def splits(self, task: str) -> dict[str, DatasetSplit]:
        return self.records("dataset_split", task=task)

    def split_membership(self, task: str, split: str) -> SplitMembership | None:
        return self.records("split_membership", task=task, slug=split).get(())

    def finetunes(self, task: str) -> dict[str, FineTune]:
        return self.records("finetune", task=task)

    def finetune_status(self, task: str, slug: str) -> FineTuneStatus | None:
        return self.records("finetune_status", task=task, slug=slug).get(())

    def finetune_rounds(self, task: str, slug: str) -> dict[int, FineTuneRound]:
        """The finished rounds of a fine-tune's eval-driven loop, by round number."""
        rounds = self.records("finetune_round", task=task, slug=slug).values()
        return {r.round: r for r in sorted(rounds, key=lambda r: r.round)}

    def finetune_metrics(self, task: str, slug: str) -> list[FineTuneMetrics]:
        """A fine-tune's per-step metrics files, in step order."""
        return sorted(
            self.records("finetune_metrics", task=task, slug=slug).values(), key=lambda c: c.first_step
        )

    def runs(self, task: str) -> dict[str, TaskRun]:
        """Every valid run of `task`, by ID."""
        return self.records("task_run", task=task)

    def annotations(self, task: str) -> list[Annotation]:
        """Every valid annotation of `task` (all raters)."""
        return list(self.records("annotation", task=task).values())

    def judge_results(self, task: str, eval_slug: str) -> list[JudgeResult]:
        """Every valid judge result of an eval (all judges, current and stale)."""
        return list(self.records("judge_result", task=task, eval=eval_slug).values())

    def states(self, task: str) -> dict[str, RunState]:
        """Every run of `task` joined with its annotations (effective tags, consensus ratings), in ID order."""
        key = ("states", task)
        if key not in self._cache:
            self._cache[key] = run_states(self.runs(task), self.annotations(task))
        states: dict[str, RunState] = self._cache[key]
        return states

    def run_filter(self, task: str, text: str) -> RunFilter:
        """Parse a run filter whose `split::` terms read this task's materialized splits."""

        def split_members(name: str, part: str) -> frozenset[str]:
            membership = self.split_membership(task, name)
            if membership is None:
                raise NotFoundError(
                    f"split {name!r} of task {task!r} has no frozen membership yet",
                    f"materialize it: kilngit split materialize {name}",
                )
            if part not in membership.parts:
                raise NotFoundError(
                    f"split {name!r} has no part {part!r}", f"parts: {', '.join(sorted(membership.parts))}"
                )
            return frozenset(membership.parts[part])

        return parse_filter(text, split_members)

    def select(self, task: str, text: str) -> list[RunState]:
        """The runs of `task` matching a filter, in ID order."""
        flt = self.run_filter(task, text)
        return [s for s in self.states(task).values() if flt.matches(s)]  # states are kept in ID order

    def resolve_run(self, task: str, prefix: str) -> TaskRun:
        """The run whose ID starts with `prefix` (git-style unambiguous prefixes, at least 4 characters)."""
        prefix = prefix.strip().lower()
        if len(prefix) < 4:
            raise NotFoundError(f"run ID prefix {prefix!r} is too short", "give at least 4 characters")
        matches = [r for rid, r in self.runs(task).items() if rid.startswith(prefix)]
        if not matches:
            raise NotFoundError(
                f"no run of task {task!r} has an ID starting with {prefix!r}",
                "list runs with `kilngit status` or check the task",
            )
        if len(matches) > 1:
            raise AmbiguousIdError(
                f"run ID prefix {prefix!r} is ambiguous ({len(matches)} runs)",
                "candidates: " + ", ".join(sorted(r.id for r in matches)[:10]),
            )
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
        self.require_writable()
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
        point outside the project) and that nothing but a regular file is in the way. Refuses a project of
        an older layout (`require_writable`)."""
        self.require_writable()
        try:
            check_no_symlinks(self.root, relpath)
        except ReadError as e:
            raise KilngitError(f"cannot write {relpath}: {e}", e.fix) from e
        return self.root / relpath

    def refresh(self) -> None:
        """Forget cached reads (another process changed the files)."""
        self._cache.clear()

    def delete(self, relpath: str) -> None:
        """Remove a file (e.g. an annotation emptied by its owner)."""
        (self.root / relpath).unlink(missing_ok=True)
        located = layout.classify(relpath)
        if located is not None and located.kind == "annotation":
            self._update(KINDS["annotation"], located.params, None)
        else:
            self._cache.clear()

    def forget(self, what: str, task: str | None = None, eval_slug: str | None = None) -> None:
        """Drop cached reads that changes made on disk by someone else have made stale: the "runs" or
        "annotations" of a task, the "results" of an eval, or "definitions" (everything else)."""
        keys: list[tuple[Any, ...]]
        if what == "runs":
            keys = [("task_run", task), ("states", task)]
        elif what == "annotations":
            keys = [("annotation", task), ("states", task)]
        elif what == "results":
            keys = [("judge_result", task, eval_slug)]
        elif what == "definitions":
            keys = [k for k in self._cache if k[0] not in _BULK]
            self.__dict__.pop("manifest", None)
            self.__dict__.pop("layout_version", None)
        else:
            raise ValueError(f"cannot forget {what!r}")
        for key in keys:
            self._cache.pop(key, None)

    def mark(self) -> tuple[int, frozenset[tuple[Any, ...]]]:
        """What this object has read so far, for `forget_since`."""
        return len(self.problems), frozenset(self._cache)

    def forget_since(self, mark: tuple[int, frozenset[tuple[Any, ...]]]) -> None:
        """Forget the reads made since `mark` and the problems they noted: a caller that tried a shortcut
        and fell back reads them again, and their problems are counted once."""
        problems, kept = mark
        del self.problems[problems:]
        for key in [k for k in self._cache if k not in kept]:
            del self._cache[key]

    def remember(self, record: Record) -> None:
        """Bring the cached reads up to date with a record just written (by this object or for it)."""
        kind = KINDS[record.kind]
        if kind.identity:
            self._update(kind, layout.identity_parts(kind, record), record)

    def _update(self, kind: Kind, parts: dict[str, str], record: Record | None) -> None:
        """Put one record (None: it was deleted) into the cached listing of its kind, in place. A run's
        annotations are also replaced in its cached state, so a label written at 100k runs does not recompute
        every run's state; a new run drops the cached states."""
        task = parts.get("task", "")
        listing = self._cache.get((kind.name, *(parts[p] for p in kind.scope)))
        if listing is not None:
            if record is None:
                listing.pop(_listing_key(kind, parts), None)
            else:
                listing[_listing_key(kind, parts)] = record
        if kind.name == "task_run":
            self._cache.pop(("states", task), None)
        elif kind.name == "annotation":
            state = self._cache.get(("states", task), {}).get(parts["run"])
            if state is not None:
                kept = [a for a in state.annotations if layout.rater_dir(a.rater) != parts["rater"]]
                state.annotations = sorted(kept + ([record] if record else []), key=lambda a: a.rater)


#: Cache keys of the bulk collections `forget("definitions")` keeps.
_BULK = ("task_run", "annotation", "judge_result", "states")
_BLANK = "\x00"  # a template's free part in `candidates`' steps


def _listed(root: Path, steps: list[str]) -> list[str] | None:
    """What `candidates`' folder walk finds for `steps`, from git's index of the project's files
    (`kilngit.cache.index`), or None when git cannot tell (outside git, a submodule, a conflict). Files
    git does not list, FIFOs and sockets, and folders named like a record file, are not found (as in
    `validate`, with the same limits)."""
    fixed = next((i for i, step in enumerate(steps) if _BLANK in step), len(steps))
    if fixed == 0 or steps[0] != TASKS:
        return None
    index = sync(root)
    if index is None:
        return None
    under = "/".join(steps[:fixed]) + "/"
    depth = len(steps)
    last = steps[-1]
    suffix = last[last.rindex(_BLANK) + 1 :] if _BLANK in last else None
    dots = suffix.count(".") if suffix is not None else 0
    fixed_after = [(i, step) for i, step in enumerate(steps) if i >= fixed and _BLANK not in step]
    try:
        paths = index.paths(under)
    except GitError:
        return None
    found = []
    for path in paths:
        names = path.split("/")
        if len(names) != depth or any(names[i] != step for i, step in fixed_after):
            continue
        name = names[-1]
        if suffix is None or (name.endswith(suffix) and name.count(".") == dots):
            found.append(path)
    # The walk's order: each folder's names sorted, which differs from sorting whole paths where one name
    # is the start of another ("a" and "a-b"). Sorted with "/" below every character, the two agree.
    if any(a.replace("/", _BLANK) > b.replace("/", _BLANK) for a, b in pairwise(found)):
        found.sort(key=lambda p: p.replace("/", _BLANK))
    return found


def _listdir(folder: str) -> list[tuple[str, bool]]:
    """(name, is a folder) of the entries of `folder`, sorted, hidden ones left out; symlinks are not
    followed (a symlinked folder inside a project could point anywhere)."""
    try:
        with os.scandir(folder) as it:
            return sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it if not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _listing_key(kind: Kind, parts: dict[str, str], key_parts: tuple[str, ...] | None = None) -> Any:
    """A record's key within its listing: its one remaining path part, or a tuple of them."""
    key = tuple(parts[p] for p in (key_parts if key_parts is not None else kind.key))
    return key[0] if len(key) == 1 else key


def _shared_key(key: Any, record: Record) -> Any:
    """The listing key made of the record's own strings where they are equal (an ID held once, not twice)."""
    d = record.__dict__
    if type(key) is str:
        return d["id"] if d.get("id") == key else key
    return tuple(_same(part, d) for part in key)


def _same(part: str, d: dict[str, Any]) -> str:
    for name in ("id", "run"):
        if d.get(name) == part:
            return d[name]  # type: ignore[no-any-return]
    return sys.intern(part)  # a rater's or a judge's folder name: one per rater, not one per record


def _same_run(record: Record, runs: dict[str, TaskRun]) -> None:
    d = record.__dict__
    run = runs.get(d.get("run"))  # type: ignore[arg-type]
    if run is not None:
        d["run"] = run.__dict__["id"]


def definition_data(record: Definition) -> dict[str, Any]:
    """Definition fields in model order, kind and v first, defaults left out to keep hand-edited files short."""
    data = record.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    return {"kind": record.kind, "v": record.v, **{k: v for k, v in data.items() if k not in ("kind", "v")}}
