"""The two places where `git status` itself cannot tell a change, which the git path of the cache shares
(see kilngit/cache/index.py): random edit tests stay out of them, so they test kilngit, not git."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git


def ctime_tells_git(root: Path, path: Path) -> bool:
    """Whether the file's ctime alone now tells git it changed. git compares ctime to the second, so an
    edit in the second its index entry was written, with the old size and mtime put back, looks clean to
    `git status`; tests that put the mtime back do so only when this holds."""
    debug = git(root, "ls-files", "--debug", "--", path.relative_to(root).as_posix())
    recorded = [line.split()[1] for line in debug.splitlines() if line.strip().startswith("ctime:")]
    return not recorded or int(recorded[0].split(":")[0]) != path.stat().st_ctime_ns // 10**9


def without_untracked_cache(root: Path) -> None:
    """Turn off git's untracked cache (kilngit projects turn it on, via feature.manyFiles). It compares
    folders' stat data to the second, so a .gitignore removed (e.g. by `git stash`) in the second the cache
    was written can leave a file it no longer ignores unlisted by `git status` for that second."""
    git(root, "config", "core.untrackedCache", "false")
