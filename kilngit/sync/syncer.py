"""Pull (rebase) and push, safely, for `kilngit watch --sync`.

A round: fetch; when the remote has commits we lack, rebase our commits onto them (`--autostash` keeps
uncommitted work aside and puts it back); push. A rejected push (someone pushed in between) is retried after
a fresh fetch and rebase, with backoff. An unreachable remote is retried later while local commits pile up.

A real conflict stops syncing and changes nothing: before rebasing we check that no local uncommitted file is
also changed upstream (the autostash could not be put back cleanly), and a rebase that stops on a conflict is
aborted, which restores HEAD, the index and the working tree exactly. The watcher keeps committing locally and
says what to do. A marker file tells recovery that a rebase found after a crash is ours to abort.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kilngit._git import GitResult, git_result
from kilngit.sync.lock import commit_lock, watch_dir
from kilngit.sync.repo import Repo

SyncState = Literal["idle", "ok", "offline", "blocked", "conflict", "no_remote"]
NETWORK_TIMEOUT_S = 60.0
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "[remote rejected]", "stale info")


@dataclass
class SyncStatus:
    """Where syncing stands, for `watch --status` and the terminal."""

    state: SyncState = "idle"
    message: str = ""
    remote: str = ""
    branch: str = ""
    ahead: int = 0
    behind: int = 0
    last_sync_at: float | None = None
    next_try_at: float = 0.0
    pulled: int = 0
    """Commits brought in by the last round."""
    failures: int = 0


class Syncer:
    """Pulls and pushes one repository. `sync()` does one round; call it again when `due()`."""

    def __init__(
        self, repo: Repo, remote: str | None = None, interval_s: float = 60.0, max_push_tries: int = 6
    ) -> None:
        self.repo = repo
        self.interval_s = interval_s
        self.max_push_tries = max_push_tries
        self.status = SyncStatus()
        self.marker = watch_dir(repo.root) / "rebasing"
        self._remote = remote

    def due(self, now: float | None = None) -> bool:
        if self.status.state == "conflict":
            return False  # stays stopped until the user resolves it and restarts the watcher
        return (now if now is not None else time.time()) >= self.status.next_try_at

    def sync(self) -> SyncStatus:
        """One round: fetch, rebase when behind, push when ahead."""
        st = self.status
        st.pulled = 0
        target = self._target()
        if target is None:
            return self._set(
                "no_remote",
                "no remote to sync with: add one (`git remote add origin URL`) or run without --sync",
                retry_s=self.interval_s,
            )
        st.remote, st.branch = target
        for attempt in range(self.max_push_tries):
            fetched = self._git("fetch", "--quiet", "--no-tags", st.remote, timeout=NETWORK_TIMEOUT_S)
            if not fetched.ok:
                return self._offline(fetched)
            if self._has_upstream() and not self._rebase():
                return st
            self._count()
            if st.ahead == 0:
                return self._set("ok", "up to date", retry_s=self.interval_s)
            pushed = self._git(
                "push",
                "--quiet",
                "--porcelain",
                st.remote,
                f"HEAD:refs/heads/{st.branch}",
                timeout=NETWORK_TIMEOUT_S,
            )
            if pushed.ok:
                st.ahead = 0
                return self._set("ok", f"pushed to {st.remote}/{st.branch}", retry_s=self.interval_s)
            if not any(word in pushed.output for word in _REJECTED):
                return self._offline(pushed)
            time.sleep(min(0.2 * 2**attempt, 5.0))  # someone pushed in between: fetch, rebase, try again
        return self._set(
            "offline",
            f"push kept being rejected after {self.max_push_tries} tries; will retry",
            retry_s=self._backoff(),
        )

    def _target(self) -> tuple[str, str] | None:
        branch = self.repo.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if not branch:
            return None  # detached HEAD: nothing to push to
        remote = self._remote or self.repo.git("config", f"branch.{branch}.remote", check=False) or "origin"
        if not self.repo.git("remote", "get-url", remote, check=False):
            return None
        merge = self.repo.git("config", f"branch.{branch}.merge", check=False)
        if merge and not self._remote:
            return remote, merge.removeprefix("refs/heads/")
        return remote, branch

    def _upstream(self) -> str:
        return f"refs/remotes/{self.status.remote}/{self.status.branch}"

    def _has_upstream(self) -> bool:
        return self._git("rev-parse", "--verify", "-q", self._upstream()).ok

    def _count(self) -> None:
        st = self.status
        if not self._has_upstream():
            st.ahead, st.behind = (1 if self.repo.head() else 0), 0
            return
        out = self._git("rev-list", "--left-right", "--count", f"HEAD...{self._upstream()}").stdout.split()
        st.ahead, st.behind = (int(out[0]), int(out[1])) if len(out) == 2 else (0, 0)

    def _rebase(self) -> bool:
        """Rebase onto the upstream when behind; False (and state set) when that is not safely possible."""
        self._count()
        if self.status.behind == 0:
            return True
        with commit_lock(self.repo.root):
            busy = self.repo.busy()
            if busy:
                self._set("blocked", f"{busy} is in progress; syncing waits for it", retry_s=self.interval_s)
                return False
            staged = self._git("diff", "--cached", "--name-only").stdout.split()
            if staged:  # an autostash would unstage them: wait until they are committed or unstaged
                self._set(
                    "blocked",
                    f"{len(staged)} file(s) you staged by hand (e.g. {staged[0]}): syncing waits "
                    "until you commit or unstage them",
                    retry_s=self.interval_s,
                )
                return False
            clash = self._local_changes_also_upstream()
            if clash:
                self._set(
                    "blocked",
                    f"{len(clash)} uncommitted file(s) also changed upstream (e.g. {clash[0]}): "
                    "commit, fix or discard them, then syncing resumes",
                    retry_s=self.interval_s,
                )
                return False
            head_before = self.repo.head()
            self.marker.write_text(head_before or "")
            result = self._git("-c", "rebase.autoStash=true", "rebase", "--quiet", self._upstream())
            if not result.ok:
                if self.repo.busy():
                    self._git("rebase", "--abort")
                self.marker.unlink(missing_ok=True)
                self._set(
                    "conflict",
                    "your commits and the remote's changed the same file differently; syncing "
                    f"stopped and nothing was changed. To fix: `git pull --rebase {self.status.remote}"
                    f" {self.status.branch}`, resolve the conflicts, then restart `kilngit watch`. "
                    f"(git said: {result.output[:300]})",
                )
                return False
            self.marker.unlink(missing_ok=True)
            self.status.pulled = self.status.behind
        return True

    def _local_changes_also_upstream(self) -> list[str]:
        """Uncommitted paths (tracked or not, anywhere in the repo) that the incoming commits also touch."""
        base = self._git("merge-base", "HEAD", self._upstream()).stdout.strip()
        incoming = self._git("diff", "--name-only", "--no-renames", "-z", base or "HEAD", self._upstream())
        theirs = set(filter(None, incoming.stdout.split("\0")))
        if not theirs:
            return []
        dirty = self._git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames").stdout
        mine = {entry[3:] for entry in dirty.split("\0") if len(entry) > 3}
        return sorted(mine & theirs)

    def _offline(self, result: GitResult) -> SyncStatus:
        return self._set(
            "offline", f"remote unreachable, will retry: {result.output[:200]}", retry_s=self._backoff()
        )

    def _backoff(self) -> float:
        self.status.failures += 1
        return min(5.0 * 2 ** (self.status.failures - 1), 300.0, self.interval_s * 5)

    def _set(self, state: SyncState, message: str, retry_s: float = 0.0) -> SyncStatus:
        st = self.status
        if state == "ok":
            st.failures = 0
            st.last_sync_at = time.time()
        st.state, st.message = state, message
        st.next_try_at = time.time() + retry_s
        return st

    def _git(self, *args: str, timeout: float | None = None) -> GitResult:
        return git_result(self.repo.root, *args, timeout=timeout)


def abort_our_rebase(root: str | Path) -> bool:
    """After a crash: abort a rebase the watcher started (its marker file is there). True when one was."""
    repo = Repo.open(root)
    marker = watch_dir(repo.root) / "rebasing"
    if not marker.exists():
        return False
    aborted = False
    if repo.busy():
        aborted = git_result(repo.root, "rebase", "--abort").ok
    marker.unlink(missing_ok=True)
    return aborted
