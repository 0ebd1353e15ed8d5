"""The two commits a review compares, the paths that changed between them, and each side as a `Project`.

    BASE...HEAD   from the merge base of BASE and HEAD to HEAD (what a pull request adds; like `git diff`)
    BASE..HEAD    from BASE to HEAD
    BASE          the same as BASE...HEAD

Each side is materialized with `git archive` into a temporary folder (only the manifest and the tasks that
changed) and loaded as an ordinary `Project`, so the review reads records exactly as every other command does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kilngit import layout
from kilngit._git import run_git
from kilngit.errors import GitError, UsageError
from kilngit.project import Project


@dataclass(frozen=True)
class RevisionRange:
    """What is compared: `base` and `head` commit IDs, and the names they were given."""

    spec: str
    base: str
    head: str
    base_name: str
    head_name: str


@dataclass(frozen=True)
class ChangedPath:
    """One path (relative to the project root) and how it changed: A added, M modified, D deleted."""

    status: str
    path: str


def parse_range(root: Path, spec: str) -> RevisionRange:
    """Resolve `BASE...HEAD`, `BASE..HEAD` or `BASE` to two commits."""
    spec = spec.strip()
    if "..." in spec:
        base_name, head_name = spec.split("...", 1)
        three_dots = True
    elif ".." in spec:
        base_name, head_name = spec.split("..", 1)
        three_dots = False
    else:
        base_name, head_name, three_dots = spec, "", True
    base_name, head_name = base_name or "HEAD", head_name or "HEAD"
    base, head = _commit(root, base_name), _commit(root, head_name)
    if three_dots:
        merge_base = run_git(root, "merge-base", base, head, check=False)
        if not merge_base:
            raise UsageError(
                f"{base_name} and {head_name} have no common history",
                f"compare them directly: {base_name}..{head_name}",
            )
        base = merge_base
    return RevisionRange(spec, base, head, base_name, head_name)


def _commit(root: Path, name: str) -> str:
    sha = run_git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False)
    if not sha:
        raise UsageError(
            f"unknown revision {name!r}",
            "fetch it first (e.g. git fetch origin main); in GitHub Actions check out with fetch-depth: 0",
        )
    return sha


def changed_paths(root: Path, rng: RevisionRange) -> list[ChangedPath]:
    """Paths under the project root that differ between the two commits (renames as delete + add)."""
    out = run_git(
        root, "diff", "--name-status", "-z", "--no-renames", "--relative", rng.base, rng.head, "--", "."
    )
    fields = out.split("\0")
    changes = []
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        if status and path:
            changes.append(ChangedPath(status[0], path))
    return changes


@contextmanager
def snapshot(root: Path, commit: str, tasks: set[str]) -> Iterator[Project | None]:
    """The project as it was at `commit` (manifest and the given tasks only), or None when it did not exist
    there. Removed when the context ends."""
    prefix = run_git(root, "rev-parse", "--show-prefix").rstrip("/")
    top = run_git(root, "rev-parse", "--show-toplevel")  # ls-tree and archive act relative to the cwd
    tree = f"{commit}:{prefix}" if prefix else commit
    inside = f"{commit}:{prefix + '/' if prefix else ''}"
    if not run_git(top, "cat-file", "-t", f"{inside}{layout.MANIFEST}", check=False):
        yield None
        return
    listing = run_git(top, "ls-tree", "--name-only", "-z", f"{inside}tasks", check=False)
    paths = [layout.MANIFEST, *(f"tasks/{t}" for t in sorted(tasks & set(listing.split("\0"))))]
    folders = [Path(tempfile.mkdtemp(prefix="kilngit-review-", dir=_memory_tmp()))]
    try:
        archive = folders[0] / "snapshot.tar"
        run_git(top, "archive", "--format=tar", "-o", str(archive), tree, "--", *paths)
        if shutil.disk_usage(folders[0]).free < 8 * archive.stat().st_size:  # small files take whole pages
            folders.append(Path(tempfile.mkdtemp(prefix="kilngit-review-")))
        _extract(archive, folders[-1] / "project")
        archive.unlink()
        yield Project(folders[-1] / "project")
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def _memory_tmp() -> str | None:
    """A RAM-backed temp folder when there is one (Linux /dev/shm), else None (the default temp folder).

    A snapshot is thousands of small files written once and removed: on a disk busy with other writes that
    takes 20 times longer (6.5 s against 0.3 s for 10,000 records, measured)."""
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 1 << 30:
            return shm
    except OSError:
        pass
    return None


def _extract(archive: Path, dest: Path) -> None:
    """Unpack with `tar` when there is one (10x faster than Python's tarfile on 10,000 small files)."""
    dest.mkdir(parents=True)
    tar = shutil.which("tar")
    if tar:
        proc = subprocess.run([tar, "-xf", str(archive), "-C", str(dest)], capture_output=True, text=True)
        if proc.returncode == 0:
            return
    try:
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:  # Python < 3.10.12: git archive writes only files and folders under the paths asked for
                t.extractall(dest)  # noqa: S202
    except tarfile.TarError as e:
        raise GitError(f"cannot unpack the snapshot made by git archive: {e}", "check the repository") from e
