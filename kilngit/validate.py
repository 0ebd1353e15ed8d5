"""`kilngit validate`: every file parses and matches its schema, sits where its identity says, and every
reference resolves.

References are checked by the existence of the path the reference implies (IDs and slugs map to paths), so
checking a handful of changed files (`--changed`) never needs the rest of the project loaded. Large
projects are checked in parallel worker processes.
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kilngit import _git, layout
from kilngit._io import atomic_write
from kilngit.errors import KilngitError
from kilngit.kinds import KINDS
from kilngit.load import Parsed, Problem, parse_record
from kilngit.records import ProjectManifest, Record

_PARALLEL_THRESHOLD = 4_000
_CHUNK = 2_000


@dataclass
class ValidationReport:
    """What `validate` found."""

    files: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": self.files,
            "kinds": dict(sorted(self.kinds.items())),
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "problems": [p.to_dict() for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


def validate_project(
    root: str | Path, paths: Iterable[str] | None = None, workers: int | None = None
) -> ValidationReport:
    """Validate the whole project at `root`, or only `paths` (relative to root) when given."""
    start = time.perf_counter()
    root = Path(root).absolute()
    odd: list[Problem] = []
    relpaths = sorted(set(paths)) if paths is not None else list(project_files(root, odd))
    if paths is not None:
        odd = [
            _odd_problem(p, os.path.islink(root / p))
            for p in relpaths
            if not _is_record_candidate(p) and _is_odd(root / p)
        ]
    relpaths = [p for p in relpaths if _is_record_candidate(p)]
    report = ValidationReport(files=len(relpaths), problems=odd)
    version = project_layout(root)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers > 1 and len(relpaths) >= _PARALLEL_THRESHOLD:
        chunks = [relpaths[i : i + _CHUNK] for i in range(0, len(relpaths), _CHUNK)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_check_chunk, [root] * len(chunks), chunks, [version] * len(chunks)))
    else:
        results = [_check_chunk(root, relpaths, version)]
    run_keys: dict[tuple[str, ...], str] = {}
    for kinds, problems, keys in results:
        report.kinds.update(kinds)
        report.problems += problems
        for key, relpath in keys:
            if key in run_keys:
                report.problems.append(
                    Problem(
                        relpath,
                        f"duplicate judgement: {run_keys[key]} already judges the same run with the same "
                        f"judge and sample (the work was done twice)"
                        if key[0] == "judge_result"
                        else f"duplicate run: {run_keys[key]} already answers the same input with the same run "
                        f"config and sample",
                        "keep one of them (e.g. `git rm` the newer file)",
                        severity="warning",
                    )
                )
            else:
                run_keys[key] = relpath
    report.problems.sort(key=lambda p: (p.path, p.pointer))
    report.seconds = time.perf_counter() - start
    return report


def validate_changed(root: str | Path, staged_only: bool = False) -> ValidationReport:
    """Validate only the files git reports as changed against HEAD (staged, unstaged or untracked), or with
    `staged_only` only what the next commit would contain (no work-tree scan: fastest, for pre-commit hooks)."""
    root = Path(root).absolute()
    if _git.repo_root(root) is None:
        raise KilngitError(
            f"{root} is not in a git repository, so --changed has nothing to compare with",
            "run `kilngit validate` without --changed, or `git init`",
        )
    paths = _git.staged_files(root) if staged_only else _git.changed_files(root)
    return validate_project(root, paths, workers=1)


def fix_canonical(root: str | Path, report: ValidationReport) -> int:
    """Rewrite the valid-but-not-canonical files a report found; returns how many were rewritten."""
    root = Path(root)
    layout.check_layout(project_layout(root), writing=True)
    fixed = 0
    for problem in report.problems:
        if problem.code == "not_canonical":
            record = parse_record(root, problem.path).record
            if record is not None:
                fixed += atomic_write(root / problem.path, record.to_bytes())  # type: ignore[attr-defined]
    return fixed


def fix_conflicts(root: str | Path, report: ValidationReport) -> list[str]:
    """Resolve annotation files left with git conflict markers (one rater edited the run on two machines and
    the clone lacked the merge driver) by the merge rule of `kilngit.review.annotation_merge`, and install
    the driver in this clone. Returns the paths resolved; stage and commit them to finish the merge."""
    from kilngit.review.annotation_merge import has_conflict_markers, install_driver, resolve_conflict

    root = Path(root)
    layout.check_layout(project_layout(root), writing=True)
    install_driver(root)
    resolved = []
    for path in sorted({p.path for p in report.errors}):
        located = layout.classify(path)
        if located is None or located.kind != "annotation" or not (root / path).is_file():
            continue
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if has_conflict_markers(text) and resolve_conflict(root, path) is not None:
            resolved.append(path)
    return resolved


def project_files(root: Path, odd: list[Problem] | None = None) -> Iterator[str]:
    """Relative paths of the files validation looks at: the manifest and everything under tasks/.

    Symlinks are never followed; they, and FIFOs, sockets and devices that are not named like records, go
    to `odd` as problems. A folder named like a record is yielded as a path, for its problem to be reported."""
    if (root / layout.MANIFEST).exists() or (root / layout.MANIFEST).is_symlink():
        yield layout.MANIFEST
    stack = [(root / "tasks", "tasks")]
    while stack:
        folder, rel = stack.pop()
        try:
            it = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with it:
            for entry in it:
                if entry.name.startswith("."):
                    continue  # temp files of atomic writes, editor swap files, .DS_Store
                path = f"{rel}/{entry.name}"
                if entry.is_symlink() or not (
                    entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False)
                ):
                    if _is_record_candidate(path):
                        yield path  # reading it says what it is
                    elif odd is not None:
                        odd.append(_odd_problem(path, entry.is_symlink()))
                elif entry.is_dir(follow_symlinks=False) and layout.classify(path) is None:
                    stack.append((Path(entry.path), path))
                else:
                    yield path


def _odd_problem(relpath: str, symlink: bool) -> Problem:
    if symlink:
        return Problem(
            relpath,
            "is a symlink (kilngit never follows symlinks inside a project: they can point outside it)",
            "replace the symlink with the real file or folder",
        )
    return Problem(relpath, "is a FIFO, socket or device, which has no place in a project", "remove it")


def _is_odd(path: Path) -> bool:
    """A symlink, FIFO, socket or device (not followed, never opened)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _is_record_candidate(relpath: str) -> bool:
    """Files that must be records: the manifest and .json/.yaml/.yml files under tasks/."""
    name = relpath.rsplit("/", 1)[-1]
    return relpath == layout.MANIFEST or (
        relpath.startswith("tasks/")
        and not name.startswith(".")
        and name.endswith((".json", ".yaml", ".yml"))
    )


def project_layout(root: Path) -> int:
    """The folder layout the manifest at `root` declares (the current one when it cannot be read: its
    problems are reported with the rest); a newer layout than this kilngit knows is refused."""
    manifest = parse_record(root, layout.MANIFEST).record if (root / layout.MANIFEST).is_file() else None
    version = manifest.layout if isinstance(manifest, ProjectManifest) else layout.LAYOUT
    layout.check_layout(version, writing=False)
    return version


def _misplaced(relpath: str, located: layout.Located, version: int) -> Problem:
    return Problem(
        relpath,
        f"sits at its path in folder layout {located.layout or layout.LAYOUT}, but this project uses layout "
        f"{version} (kilngit.yaml)",
        "run `kilngit migrate` to move every file to the layout this kilngit writes",
    )


def _check_chunk(
    root: Path, relpaths: list[str], version: int = layout.LAYOUT
) -> tuple[Counter[str], list[Problem], list[tuple[tuple[str, ...], str]]]:
    """Parse and cross-check some files; returns kind counts, problems and run identity keys."""
    refs = _References(root, version)
    kinds: Counter[str] = Counter()
    problems: list[Problem] = []
    keys: list[tuple[tuple[str, ...], str]] = []
    for relpath in relpaths:
        if relpath.endswith(".yml"):
            problems.append(
                Problem(relpath, "kilngit files use the .yaml extension", "rename the file to .yaml")
            )
            continue
        located = layout.classify(relpath)
        parsed = parse_record(root, relpath, located)
        kinds[parsed.kind] += 1
        if located is not None and not located.fits(version):
            parsed.problems.append(_misplaced(relpath, located, version))
        problems += parsed.problems
        if parsed.record is not None and not parsed.problems:
            problems += refs.check(parsed)
            key = _run_key(parsed.record)
            if key:
                keys.append((key, relpath))
    return kinds, problems, keys


def _run_key(record: Record) -> tuple[str, ...] | None:
    """(task, input, run config, sample) of a model-made run, or (judge hash, run, sample) of a judge result
    without error: two records sharing it are the same work done twice."""
    d = record.__dict__
    if record.kind == "judge_result":
        if d["error"] is not None:
            return None  # a failed judgement is retried: the retry is not a duplicate
        return ("judge_result", d["task"], d["eval"], d["judge"], d["judge_hash"], d["run"], str(d["sample"]))
    if record.kind != "task_run" or d["output_source"] is None or d["output_source"].run_config is None:
        return None
    return (
        d["task"],
        d["input"],
        d["output_source"].run_config,
        d["output_source"].run_config_hash or "",
        str(d["sample"]),
    )


class _References:
    """Checks a record against the rest of the project, as its kind declares (kilngit.kinds): the records its
    `refs` name exist (by the paths their identities imply), and its kind's `check` passes. Implements the
    `kilngit.kind_checks.Context` the checks ask."""

    def __init__(self, root: Path, version: int = layout.LAYOUT) -> None:
        self.root = root
        self.version = version
        self._defs: dict[str, Record | None] = {}

    def file_exists(self, relpath: str) -> bool:
        return os.path.isfile(self.root / relpath)

    def exists(self, kind: str, **parts: str) -> bool:
        return self.file_exists(KINDS[kind].fill(parts, self.version))

    def definition(self, kind: str, **parts: str) -> Record | None:
        relpath = KINDS[kind].fill(parts, self.version)
        if relpath not in self._defs:
            parsed = parse_record(self.root, relpath) if self.file_exists(relpath) else None
            self._defs[relpath] = parsed.record if parsed else None
        return self._defs[relpath]

    def check(self, parsed: Parsed) -> list[Problem]:
        record, path, params = parsed.record, parsed.relpath, parsed.params
        assert record is not None
        kind = KINDS[record.kind]
        task = params.get("task")
        if task and kind.name != "task" and not self.exists("task", task=task):
            return [Problem(path, f"task {task!r} does not exist", f"create {layout.task_file(task)}")]
        out = []
        for ref in kind.refs:
            value = ref.value(record)
            if value is None:
                continue
            target = KINDS[ref.kind]
            parts = {p: params[p] for p in target.scope if p in params} | {target.key[0]: value}
            relpath = target.fill(parts, self.version)
            if not self.file_exists(relpath):
                name = value if target.sharded else repr(value)
                out.append(
                    Problem(
                        path,
                        f"{ref.what} {name} does not exist",
                        f"create {relpath} or fix the reference",
                        ref.pointer,
                        ref.severity,
                    )
                )
        if kind.check is not None:
            out += kind.check(self, path, record, params)
        return out
