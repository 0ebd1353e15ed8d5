"""The git repository a project lives in, as the watcher sees it: where it is, what changed, whether it is
in the middle of something (a rebase, a merge) and whether another git command holds its index lock.

Paths handed in and out are relative to the project root; git's own paths (relative to the top of the work
tree) are translated here, so a project in a subfolder of a bigger repository works the same.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from kilngit._git import run_git
from kilngit.errors import KilngitError

#: More hints than this and one status of the whole project is cheaper: git matches every index entry
#: against every pathspec, so a status of many single-file pathspecs grows with their product.
_FULL_SCAN_OVER = 64


@dataclass(frozen=True)
class Change:
    """One path git reports as different from HEAD: `staged` / `unstaged` are git's two status letters."""

    path: str
    staged: str
    """Index vs HEAD: ' ' unchanged, '?' untracked, else a change someone staged (M, A, D, R...)."""
    unstaged: str
    """Work tree vs index: ' ' unchanged, 'M' modified, 'D' deleted, 'A' intent-to-add, '?' untracked."""

    @property
    def deleted(self) -> bool:
        return self.unstaged == "D" or (self.staged == "D" and self.unstaged == " ")

    @property
    def staged_by_hand(self) -> bool:
        """The index holds a change for this path: someone staged it by hand, so the watcher leaves it."""
        return self.staged not in (" ", "?")


@dataclass(frozen=True)
class Repo:
    """A project inside a git work tree."""

    root: Path
    """The project root (the folder holding kilngit.yaml)."""
    toplevel: Path
    git_dir: Path
    prefix: str
    """The project root relative to the top of the work tree ("" when they are the same)."""
    object_format: str = "sha1"
    """The repository's hash (sha1, or sha256 for repositories made with --object-format=sha256)."""

    @classmethod
    def open(cls, root: str | Path) -> Repo:
        """The repository containing the project at `root`; an error when it is not in one."""
        root = Path(root).absolute()
        out = run_git(
            root, "rev-parse", "--show-toplevel", "--absolute-git-dir", "--show-object-format", check=False
        )
        if not out:
            raise KilngitError(
                f"{root} is not in a git repository, so there is nothing to commit to",
                "run `git init` there first",
            )
        top, git_dir, object_format = out.splitlines()[:3]
        prefix = root.resolve().relative_to(Path(top).resolve()).as_posix()
        return cls(root, Path(top), Path(git_dir), "" if prefix == "." else prefix, object_format)

    def git(self, *args: str, **kwargs) -> str:  # type: ignore[no-untyped-def]
        """Run git at the project root (see `kilngit._git.run_git`)."""
        return run_git(self.root, *args, **kwargs)

    def to_git(self, path: str) -> str:
        """A project-relative path as git names it (relative to the top of the work tree)."""
        return f"{self.prefix}/{path}" if self.prefix else path

    def from_git(self, path: str) -> str | None:
        """A git path relative to the project root, or None when it lies outside the project."""
        if not self.prefix:
            return path
        return path[len(self.prefix) + 1 :] if path.startswith(self.prefix + "/") else None

    def head(self) -> str | None:
        """The commit HEAD points at, or None on a branch with no commits yet."""
        return self.git("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False) or None

    def busy(self) -> str | None:
        """What git operation is in progress (a rebase, a merge...), or None. The watcher never commits then."""
        for name, what in (
            ("rebase-merge", "a rebase"),
            ("rebase-apply", "a rebase or `git am`"),
            ("MERGE_HEAD", "a merge"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
            ("BISECT_LOG", "a bisect"),
        ):
            if (self.git_dir / name).exists():
                return what
        return None

    def index_locked(self) -> bool:
        """True while another git command holds the index lock."""
        return (self.git_dir / "index.lock").exists()

    def status(self, hints: list[str] | None = None) -> list[Change]:
        """Changed paths of the project (untracked ones listed file by file; ignored ones left out).

        With `hints` (paths or folders that saw events) only those are asked about, unless there are so many
        that one status of the whole project is cheaper."""
        if hints is not None and not hints:
            return []
        base = [
            "--literal-pathspecs",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ]
        if hints is None or len(hints) > _FULL_SCAN_OVER:
            return self._parse(self.git(*base, "--", "."))
        return self._parse(self.git(*base, "--", *hints))

    def _parse(self, text: str) -> list[Change]:
        out = []
        for entry in text.split("\0"):
            if len(entry) < 4:
                continue
            path = self.from_git(entry[3:])
            if path is not None:
                out.append(Change(path, entry[0], entry[1]))
        return out


def blob_id(repo: Repo, data: bytes) -> str:
    """The ID git gives a blob holding `data` (what `git hash-object` prints, without running it)."""
    h = hashlib.new(repo.object_format)
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def file_stamp(path: str) -> tuple[int, int, int, int] | None:
    """What changes whenever a file's bytes change (size, inode, mtime, ctime), or None when it is gone."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns
