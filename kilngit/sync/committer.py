"""Validate changed files and commit the valid ones, exactly as they were validated.

How a commit is built (git plumbing, never `git add -A`):

1. `git status` of the paths that saw events lists what changed. Paths someone staged by hand, paths outside
   what kilngit owns (the manifest, `tasks/**` records, the recordings folder) and symlinks are left alone.
2. `kilngit.validate.validate_project(root, paths)` checks them; files with errors are reported, not committed.
3. The valid files are read once more; a file whose size, inode or times moved while it was being validated
   is put back for the next round, so the bytes committed are the bytes checked.
4. The commit is built from those bytes by `git fast-import` (see `kilngit.sync.commit`), never through the
   user's index, so their own staged changes are never swept in; HEAD is moved with a compare-and-swap
   (`git update-ref HEAD new old`): a commit made by hand in the meantime makes ours retry, not vanish.
5. The real index is updated for those paths (`git update-index --index-info`), waiting on
   `.git/index.lock` when another git command holds it. A journal under `.kilngit/watch/` makes this step survive a kill -9.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from kilngit import layout
from kilngit._git import git_result, run_git_waiting
from kilngit._io import atomic_write
from kilngit.errors import GitError
from kilngit.leaks import leaked, secrets_of
from kilngit.load import Problem
from kilngit.sync.commit import FileVersion, hash_through_git, make_commit, needs_git_filters
from kilngit.sync.deletions import broken_by_deletion
from kilngit.sync.lock import commit_lock, watch_dir
from kilngit.sync.message import Staged, commit_message
from kilngit.sync.repo import Change, Repo, blob_id, file_stamp
from kilngit.validate import project_layout, validate_project

_RECORD_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class FlushResult:
    """What one round of validate-and-commit did."""

    commit: str | None = None
    message: str = ""
    committed: list[str] = field(default_factory=list)
    invalid: dict[str, list[Problem]] = field(default_factory=dict)
    """path -> its error-level problems (not committed)."""
    valid: list[str] = field(default_factory=list)
    """Paths checked and found valid (committed now or already identical to HEAD)."""
    retry: list[str] = field(default_factory=list)
    """Paths that changed while being checked: to look at again in the next round."""
    left_alone: list[str] = field(default_factory=list)
    """Paths staged by hand: the user's commit to make."""
    waiting: str | None = None
    """Why nothing was committed yet (a rebase in progress, a held index.lock), to try again later."""


class Committer:
    """Turns changed files of one project into commits. Not thread-safe: one flush at a time."""

    def __init__(self, root: str | Path, recordings_dir: str = "recordings") -> None:
        self.repo = Repo.open(root)
        self.root = self.repo.root
        self.recordings = recordings_dir.strip("/") + "/"
        self.journal = watch_dir(self.root) / "journal.json"
        self.secrets = secrets_of()  # this machine's keys: never committed, whoever wrote them into a file

    def in_scope(self, path: str) -> bool:
        """Files the watcher commits: the manifest, record files under tasks/, the recordings folder."""
        name = path.rsplit("/", 1)[-1]
        if name.startswith(".") or "/." in path:  # hidden files and folders (temp files, an import's stage)
            return False
        if path == layout.MANIFEST:
            return True
        if path.startswith("tasks/"):
            return name.endswith(_RECORD_SUFFIXES)
        return path.startswith(self.recordings) and name.endswith(".json")

    def flush(self, hints: list[str] | None) -> FlushResult:
        """Validate and commit what changed among `hints` (paths or folders), or in the whole project (None)."""
        result = FlushResult()
        with commit_lock(self.root):
            result.waiting = self.repo.busy() and f"waiting: {self.repo.busy()} is in progress"
            if not result.waiting and self.repo.index_locked():
                result.waiting = "waiting: another git command holds .git/index.lock"
            if not result.waiting and project_layout(self.root) < layout.LAYOUT:
                result.waiting = (
                    "waiting: this project uses an older folder layout (kilngit.yaml); nothing is "
                    "committed until `kilngit migrate` moves it"
                )
            if result.waiting:
                return result
            self.finish_journal()
            self._flush(hints, result)
        return result

    def _flush(self, hints: list[str] | None, result: FlushResult) -> None:
        every = self.repo.status(hints)
        changes = [c for c in every if self.in_scope(c.path)]
        result.left_alone = sorted(c.path for c in changes if c.staged_by_hand)
        mine = [c for c in changes if not c.staged_by_hand]
        deleted = [c for c in mine if c.deleted]
        present = [c for c in mine if not c.deleted and _regular_file(self.root / c.path)]
        regular = {c.path for c in present}
        for c in every:  # symlinks anywhere under tasks/ (a symlinked task or shard folder shows as one path)
            if (
                c.path.startswith("tasks/")
                and "/." not in c.path
                and not c.deleted
                and c.path not in regular
                and _odd(self.root / c.path)
            ):
                result.invalid[c.path] = [
                    Problem(
                        c.path,
                        "is a symlink or special file, not a record file "
                        "(kilngit never follows symlinks inside a project)",
                        "replace it with the real file, or remove it",
                    )
                ]
        if not deleted and not present:
            return
        if deleted:
            result.invalid.update(broken_by_deletion(self.root, [c.path for c in deleted]))
            deleted = [c for c in deleted if c.path not in result.invalid]
        before: dict[str, object] = {c.path: file_stamp(str(self.root / c.path)) for c in present}
        new_paths = {c.path: c.unstaged in "?A" for c in present}
        records = [c.path for c in present if not c.path.startswith(self.recordings)]
        report = validate_project(self.root, records)
        for problem in report.errors:
            result.invalid.setdefault(problem.path, []).append(problem)
        for path in [c.path for c in present if c.path.startswith(self.recordings)]:
            bad_json = _json_problem(self.root, path)
            if bad_json:
                result.invalid[path] = [bad_json]
        valid = [c for c in present if c.path not in result.invalid]
        versions = self._read_stable(valid, before, result)
        result.valid = [v.path for v in versions]
        staged = [Staged(v.path, new=new_paths.get(v.path, False)) for v in versions]
        staged += [Staged(c.path, True) for c in deleted]
        if not staged:
            return
        message = commit_message(self.root, staged)
        result.commit = self._commit(versions, [c.path for c in deleted], message)
        if result.commit:
            result.message = message
            result.committed = [s.path for s in staged]

    def _read_stable(
        self, valid: list[Change], before: dict[str, object], result: FlushResult
    ) -> list[FileVersion]:
        """The validated files' bytes, as validated: a file whose stamp moved since is left for the next round."""
        versions: list[FileVersion] = []
        through_git: list[str] = []
        filtered = needs_git_filters(self.repo, [c.path for c in valid])
        for change in valid:
            path = self.root / change.path
            try:
                data = path.read_bytes()
            except OSError:
                data = None
            if data is None or file_stamp(str(path)) != before[change.path]:
                result.retry.append(change.path)
            elif names := leaked(data, self.secrets):
                result.invalid[change.path] = [_leak_problem(change.path, names)]
            elif change.path in filtered or b"\r" in data:
                through_git.append(change.path)
            else:
                versions.append(FileVersion(change.path, _mode(path), data=data))
        try:
            blobs = hash_through_git(self.repo, through_git)
        except GitError:  # a file vanished under us: look again next round
            result.retry += through_git
            return versions
        for rel, blob in zip(through_git, blobs, strict=True):
            if file_stamp(str(self.root / rel)) == before[rel]:
                versions.append(FileVersion(rel, _mode(self.root / rel), blob=blob))
            else:
                result.retry.append(rel)
        return versions

    def _commit(self, versions: list[FileVersion], deleted: list[str], message: str) -> str | None:
        """Commit on top of HEAD and move HEAD there (compare-and-swap); None when nothing changes."""
        head = self.repo.head()
        commit = make_commit(self.repo, head, versions, deleted, message)
        if commit is None:
            return None
        zero = "0" * len(commit)  # the null object ID (40 digits, or 64 in a sha256 repository)
        entries = [
            f"{v.mode} {v.blob or blob_id(self.repo, v.data or b'')}\t{self.repo.to_git(v.path)}"
            for v in versions
        ] + [f"0 {zero}\t{self.repo.to_git(path)}" for path in deleted]
        atomic_write(self.journal, json.dumps({"commit": commit, "index": entries}).encode())
        try:
            self.repo.git("update-ref", "-m", "kilngit watch: commit", "HEAD", commit, head or zero)
        except GitError:
            self.journal.unlink(missing_ok=True)  # HEAD moved (a commit by hand): the next round retries
            raise
        self.finish_journal()
        return commit

    def finish_journal(self) -> None:
        """Bring the real index in line with a commit the journal records (after a crash, or a held lock).

        The entries go in with `git update-index --index-info` (linear in their number, unlike a `git reset`
        with one pathspec per file); their file stats are filled in by the next `git status`."""
        try:
            data = json.loads(self.journal.read_bytes())
        except (FileNotFoundError, ValueError):
            self.journal.unlink(missing_ok=True)
            return
        if (
            data.get("index")
            and git_result(self.root, "merge-base", "--is-ancestor", data["commit"], "HEAD").ok
        ):
            run_git_waiting(
                self.repo.toplevel,
                "update-index",
                "--index-info",
                input="\n".join(data["index"]) + "\n",
                wait_s=600,
            )
        self.journal.unlink(missing_ok=True)


def _odd(path: Path) -> bool:
    """A symlink, FIFO, socket or device: never committed, always reported."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _mode(path: Path) -> str:
    try:
        return "100755" if os.stat(path).st_mode & 0o111 else "100644"
    except FileNotFoundError:
        return "100644"


def _leak_problem(path: str, names: list[str]) -> Problem:
    variables = ", ".join(f"${n}" for n in names)
    return Problem(
        path,
        f"holds the value of {variables} (a secret of this machine's environment): not committed",
        "remove the secret from the file (and find what wrote it there: a judge or a model echoing "
        "its input); kilngit never commits a file holding one",
        code="secret",
    )


def _json_problem(root: Path, path: str) -> Problem | None:
    try:
        json.loads((root / path).read_bytes())
    except (OSError, ValueError) as e:
        return Problem(path, f"not valid JSON: {e}", "re-record the answer or remove the file")
    return None
