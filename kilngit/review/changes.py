"""What changed between two snapshots of a project, as a reviewer wants to see it: who rated what, tag and
golden-set changes, new machine records by kind, and edited definitions.

`record_changes` reads only the changed files (and the runs they touch); the eval effects are in
`kilngit.review.effects`, and `kilngit.review.diff.review` puts both together.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kilngit import layout
from kilngit.errors import KilngitError
from kilngit.kinds import KINDS
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, Record, TaskRun
from kilngit.review.rating import rating_word
from kilngit.review.revisions import ChangedPath
from kilngit.state import RunState

STATUS_WORDS = {"A": "added", "M": "modified", "D": "deleted"}


@dataclass(frozen=True)
class FieldChange:
    """One field of an annotation, before -> after ("-" for nothing)."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RatingChangeSeen:
    """One rater's annotation of one run, as changed between the two commits."""

    task: str
    run: str
    input: str
    """The run's input, shortened."""
    rater: str
    status: str
    """added, modified or deleted."""
    fields: list[FieldChange]


@dataclass(frozen=True)
class TagChange:
    """A run's effective tags (everyone's annotations applied) before and after."""

    task: str
    run: str
    input: str
    before: list[str]
    after: list[str]


@dataclass(frozen=True)
class SetChange:
    """Runs entering and leaving an eval's golden set or eval set."""

    task: str
    eval: str
    which: str
    """golden_set or eval_set."""
    added: list[str]
    removed: list[str]
    inputs: dict[str, str]
    """Run ID -> its input, shortened."""
    size_before: int
    size_after: int


@dataclass(frozen=True)
class RecordCount:
    """How many machine records of one kind and origin were added (or, against the rules, changed)."""

    task: str
    kind: str
    """task_run, judge_result, ..."""
    origin: str
    """Runs: run config or source; judge results: eval/judge."""
    status: str
    count: int
    failed: int = 0
    """Runs without an output / judge results with an error."""


@dataclass(frozen=True)
class DefinitionChange:
    path: str
    kind: str
    status: str


@dataclass
class RecordChanges:
    """Everything `record_changes` found."""

    ratings: list[RatingChangeSeen] = field(default_factory=list)
    tags: list[TagChange] = field(default_factory=list)
    sets: list[SetChange] = field(default_factory=list)
    records: list[RecordCount] = field(default_factory=list)
    definitions: list[DefinitionChange] = field(default_factory=list)
    other_files: int = 0
    moved: int = 0
    """Records only moved to their path in another folder layout (`kilngit migrate`), bytes unchanged."""
    problems: list[str] = field(default_factory=list)
    """Files that could not be read on either side, and filters that could not be applied."""


def record_changes(before: Project | None, after: Project | None, paths: list[ChangedPath]) -> RecordChanges:
    """Compare the changed files of two snapshots (None: the project did not exist on that side)."""
    out = RecordChanges()
    touched_runs: set[tuple[str, str]] = set()
    counts: Counter[tuple[str, str, str, str]] = Counter()
    failed: Counter[tuple[str, str, str, str]] = Counter()
    for change, old_path in _pair_moves(paths):
        located = layout.classify(change.path)
        status = STATUS_WORDS.get(change.status, "modified")
        if located is None:
            out.other_files += 1
            continue
        if KINDS[located.kind].definition:
            out.definitions.append(DefinitionChange(change.path, located.kind, status))
            continue
        old = _read(before, old_path, out) if change.status != "A" else None
        new = _read(after, change.path, out) if change.status != "D" else None
        if old_path != change.path and old is not None and new is not None and old == new:
            out.moved += 1
            continue
        record = new or old
        if record is None:
            continue
        task = record.__dict__.get("task", "")
        if isinstance(record, Annotation):
            assert old is None or isinstance(old, Annotation)
            assert new is None or isinstance(new, Annotation)
            fields = annotation_fields(old, new)
            if fields:
                out.ratings.append(
                    RatingChangeSeen(
                        task,
                        record.run,
                        _input_of(before, after, task, record.run),
                        record.rater,
                        status,
                        fields,
                    )
                )
            touched_runs.add((task, record.run))
            continue
        key = (task, located.kind, _origin(record), status)
        counts[key] += 1
        failed[key] += _failed(record)
        if isinstance(record, TaskRun):
            touched_runs.add((task, record.id))
    out.records = [RecordCount(*k, n, failed[k]) for k, n in sorted(counts.items())]
    out.tags = _tag_changes(before, after, touched_runs)
    return out


def _pair_moves(paths: list[ChangedPath]) -> list[tuple[ChangedPath, str]]:
    """The changes in path order, each with the path its old version is read from: a record deleted at one
    layout's path and added at another's (same kind and identity: `kilngit migrate`) is one modification."""
    deleted: dict[tuple[str, tuple[tuple[str, str], ...]], ChangedPath] = {}
    for change in paths:
        located = layout.classify(change.path) if change.status == "D" else None
        if located is not None:
            deleted[(located.kind, tuple(sorted(located.params.items())))] = change
    out, paired = [], set()
    for change in sorted(paths, key=lambda c: c.path):
        located = layout.classify(change.path) if change.status == "A" else None
        gone = deleted.get((located.kind, tuple(sorted(located.params.items())))) if located else None
        if gone is not None and gone.path != change.path:
            out.append((ChangedPath("M", change.path), gone.path))
            paired.add(gone.path)
        else:
            out.append((change, change.path))
    return [(c, old) for c, old in out if c.path not in paired]


def _read(project: Project | None, relpath: str, out: RecordChanges) -> Record | None:
    if project is None:
        return None
    parsed = project.read(relpath)
    errors = [p for p in parsed.problems if p.severity == "error"]
    if errors:
        out.problems.append(f"{errors[0].path}: {errors[0].message}")
        return None
    return parsed.record


def _origin(record: Record) -> str:
    if isinstance(record, TaskRun):
        source = record.output_source or record.input_source
        if source.run_config:
            return source.run_config
        if source.type == "synthetic":
            return f"{source.provider}/{source.model}" if source.provider else str(source.model)
        return source.type + ("" if record.output is not None or record.error else " (input only)")
    if isinstance(record, JudgeResult):
        return f"{record.eval}/{record.judge}"
    return "-"


def _failed(record: Record) -> int:
    """1 for a run without an output or a judge result without scores (both carry an `error`)."""
    return int(getattr(record, "error", None) is not None)


def annotation_fields(old: Annotation | None, new: Annotation | None) -> list[FieldChange]:
    """What differs between two versions of one rater's annotation of one run."""
    changes: list[FieldChange] = []

    def compare(name: str, a: str, b: str) -> None:
        if a != b:
            changes.append(FieldChange(name, a, b))

    compare("overall", rating_word(old.rating if old else None), rating_word(new.rating if new else None))
    names = sorted(set(old.requirements if old else {}) | set(new.requirements if new else {}))
    for name in names:
        compare(
            name,
            rating_word(old.requirements.get(name) if old else None),
            rating_word(new.requirements.get(name) if new else None),
        )
    compare("tags", _tag_text(old), _tag_text(new))
    compare("note", _short(old.note if old else None), _short(new.note if new else None))
    compare(
        "repair", _short(old.repaired_output if old else None), _short(new.repaired_output if new else None)
    )
    return changes


def _tag_text(a: Annotation | None) -> str:
    if a is None:
        return "-"
    words = [f"+{t}" for t in a.tags_added] + [f"-{t}" for t in a.tags_removed]
    return " ".join(words) or "-"


def _short(text: str | None, limit: int = 80) -> str:
    if not text:
        return "-"
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _tag_changes(
    before: Project | None, after: Project | None, runs: set[tuple[str, str]]
) -> list[TagChange]:
    """Effective tag changes of runs on both sides (a new run's tags are part of it being new)."""
    out = []
    for task, run_id in sorted(runs):
        old, new = _state(before, task, run_id), _state(after, task, run_id)
        if old and new and old.tags != new.tags:
            out.append(TagChange(task, run_id, _short(new.run.input, 50), sorted(old.tags), sorted(new.tags)))
    return out


def _state(project: Project | None, task: str, run_id: str) -> RunState | None:
    if project is None or task not in project.tasks():
        return None
    return project.states(task).get(run_id)


def _input_of(before: Project | None, after: Project | None, task: str, run_id: str) -> str:
    state = _state(after, task, run_id) or _state(before, task, run_id)
    return _short(state.run.input, 50) if state else "?"


def set_changes(before: Project | None, after: Project | None, tasks: set[str], out: RecordChanges) -> None:
    """Add the golden-set and eval-set changes of every eval of `tasks` to `out`."""
    for task in sorted(tasks):
        evals_after = after.evals(task) if after and task in after.tasks() else {}
        evals_before = before.evals(task) if before and task in before.tasks() else {}
        for slug in sorted(set(evals_after) | set(evals_before)):
            for which in ("golden_set", "eval_set"):
                old = _members(before, task, evals_before.get(slug), which, out)
                new = _members(after, task, evals_after.get(slug), which, out)
                if old != new:
                    moved = (new - old) | (old - new)
                    inputs = {i: _input_of(before, after, task, i) for i in sorted(moved)}
                    out.sets.append(
                        SetChange(
                            task,
                            slug,
                            which,
                            sorted(new - old),
                            sorted(old - new),
                            inputs,
                            len(old),
                            len(new),
                        )
                    )


def _members(project: Project | None, task: str, ev: object, which: str, out: RecordChanges) -> set[str]:
    if project is None or ev is None:
        return set()
    try:
        return {s.id for s in project.select(task, getattr(ev, which))}
    except KilngitError as e:
        out.problems.append(f"{layout.task_dir(task)}: {which} filter: {e.message}")
        return set()
