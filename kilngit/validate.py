"""`kilngit validate`: every file parses and matches its schema, sits where its identity says, and every
reference resolves.

References are checked by the existence of the path the reference implies (IDs and slugs map to paths), so
checking a handful of changed files (`--changed`) never needs the rest of the project loaded. What each
unchanged file was found to be comes from the local cache (`kilngit.cache`, which also reads large batches
of changed files in worker processes); duplicates are found afresh from the cached facts every time.
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from kilngit import _git, layout
from kilngit._io import atomic_write
from kilngit.cache import Facts, file_facts
from kilngit.cache.files import Sink, no_gc
from kilngit.cache.index import sync
from kilngit.cache.snapshot import Outcome, validated
from kilngit.errors import KilngitError
from kilngit.kinds import KINDS
from kilngit.load import Problem, parse_record
from kilngit.records import ProjectManifest
from kilngit.validation_report import ValidationReport


def validate_project(
    root: str | Path, paths: Iterable[str] | None = None, workers: int | None = None, cache: bool = True
) -> ValidationReport:
    """Validate the whole project at `root`, or only `paths` (relative to root) when given.

    What each unchanged file was found to be comes from the local cache (`kilngit.cache`); in a git work
    tree a whole-project run reads only the files git says changed since the last one (`cache.snapshot`).
    `cache=False` reads and checks every file afresh, as `validate --no-cache` does."""
    start = time.perf_counter()
    root = Path(root).absolute()
    version = project_layout(root)
    index = sync(root) if cache and paths is None and not os.environ.get("KILNGIT_NO_CACHE") else None
    if index is not None:
        with no_gc():
            outcome = validated(
                root, index, version, lambda sink: _read_all(root, workers, version, sink=sink), _aggregate
            )
    elif paths is None:
        with no_gc():
            outcome = _aggregate(*_read_all(root, workers, version, cache))
    else:
        relpaths = sorted(set(paths))
        odd = [
            odd_problem(p, os.path.islink(root / p))
            for p in relpaths
            if not is_record_candidate(p) and _is_odd(root / p)
        ]
        relpaths = [p for p in relpaths if is_record_candidate(p)]
        facts = file_facts(root, relpaths, workers=workers, cache=cache, version=version)
        outcome = _aggregate(relpaths, facts, odd)
    report = ValidationReport(files=outcome.files, kinds=outcome.kinds, problems=outcome.problems)
    report.seconds = time.perf_counter() - start
    return report


def _read_all(
    root: Path, workers: int | None, version: int, cache: bool = True, sink: Sink | None = None
) -> tuple[list[str], dict[str, Facts], list[Problem]]:
    """Every record file of the project in path order, its facts, and the problems of odd files (each
    file's facts also go to `sink` as soon as they are known)."""
    odd: list[Problem] = []
    files: set[str] = set()
    relpaths = sorted(p for p in project_files(root, odd, files) if is_record_candidate(p))
    facts = file_facts(
        root, relpaths, files=files, workers=workers, cache=cache, complete=True, version=version, sink=sink
    )
    return relpaths, facts, odd


def _aggregate(relpaths: list[str], facts: dict[str, Facts], odd: list[Problem]) -> Outcome:
    """The report of files' facts: their kinds, their problems and the duplicates among them (the first
    of each group in path order is the original)."""
    kinds: Counter[str] = Counter()
    problems = list(odd)
    run_keys: dict[tuple[str, ...], str] = {}
    for relpath in relpaths:
        fact = facts[relpath]
        if fact.kind != "unknown" or not relpath.endswith(".yml"):
            kinds[fact.kind] += 1
        problems += fact.problems
        problems += fact.cross
        if fact.run_key:
            key = tuple(fact.run_key)
            if key in run_keys:
                problems.append(duplicate_problem(key, relpath, run_keys[key]))
            else:
                run_keys[key] = relpath
    problems.sort(key=lambda p: (p.path, p.pointer))
    return Outcome(len(relpaths), kinds, problems)


def duplicate_problem(key: tuple[str, ...], relpath: str, first: str) -> Problem:
    """The warning of a record whose run key (`cache.facts.run_key`) `first` already has."""
    return Problem(
        relpath,
        f"duplicate judgement: {first} already judges the same run with the same "
        f"judge and sample (the work was done twice)"
        if key[0] == "judge_result"
        else f"duplicate run: {first} already answers the same input with the same run config and sample",
        "keep one of them (e.g. `git rm` the newer file)",
        severity="warning",
    )


def validate_changed(root: str | Path, staged_only: bool = False, cache: bool = True) -> ValidationReport:
    """Validate only the files git reports as changed against HEAD (staged, unstaged or untracked), or with
    `staged_only` only what the next commit would contain (no work-tree scan: fastest, for pre-commit hooks)."""
    root = Path(root).absolute()
    if _git.repo_root(root) is None:
        raise KilngitError(
            f"{root} is not in a git repository, so --changed has nothing to compare with",
            "run `kilngit validate` without --changed, or `git init`",
        )
    paths = _git.staged_files(root) if staged_only else _git.changed_files(root)
    return validate_project(root, paths, workers=1, cache=cache)


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


def project_files(
    root: Path, odd: list[Problem] | None = None, regular: set[str] | None = None
) -> Iterator[str]:
    """Relative paths of the files validation looks at: the manifest and everything under tasks/; the
    regular files among them are also added to `regular`.

    Symlinks are never followed; they, and FIFOs, sockets and devices that are not named like records, go
    to `odd` as problems. A folder named like a record is yielded as a path, for its problem to be reported."""
    if (root / layout.MANIFEST).exists() or (root / layout.MANIFEST).is_symlink():
        yield layout.MANIFEST
    # Only a folder with a record's suffix can sit at a record's path: the rest need no `classify`, which
    # matters with a folder per shard (as many folders as files in a small project).
    suffixes = tuple({"." + kind.path.rsplit(".", 1)[-1] for kind in KINDS.values()})
    stack = [(os.path.join(root, "tasks"), "tasks")]
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
                    if is_record_candidate(path):
                        yield path  # reading it says what it is
                    elif odd is not None:
                        odd.append(odd_problem(path, entry.is_symlink()))
                elif entry.is_dir(follow_symlinks=False) and (
                    not entry.name.endswith(suffixes) or layout.classify(path) is None
                ):
                    stack.append((entry.path, path))
                else:
                    if regular is not None and entry.is_file(follow_symlinks=False):
                        regular.add(path)
                    yield path


def odd_problem(relpath: str, symlink: bool) -> Problem:
    """The problem of a symlink, FIFO, socket or device in the project."""
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


def is_record_candidate(relpath: str) -> bool:
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
