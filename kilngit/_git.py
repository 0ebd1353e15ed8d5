"""Internal: every git call kilngit makes goes through `run_git`.

Git runs as a plain subprocess per call (safe in a long-running daemon, unlike GitPython's `repo.index`,
and with full control of the environment): inherited `GIT_*` variables that point at a repository or index
are stripped, so a hook or a daemon started from one repository never acts on another.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kilngit.errors import GitError

# Variables that would make git act on a different repository or index than the one we name.
_STRIP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
          "GIT_PREFIX", "GIT_COMMON_DIR", "GIT_NAMESPACE")


def git_env() -> dict[str, str]:
    """The environment git commands run with."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


def run_git(cwd: str | Path, *args: str, check: bool = True, input: str | None = None) -> str:
    """Run `git ARGS` in `cwd` and return its stdout without the final newline.

    On failure raise `GitError` showing the command, its exit code and its output (or return "" when
    `check` is False)."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=git_env(), input=input, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH", "install git") from e
    if proc.returncode != 0:
        if not check:
            return ""
        out = " ".join(x.strip() for x in (proc.stdout, proc.stderr) if x.strip())
        raise GitError(f"`git {' '.join(args)}` failed with exit code {proc.returncode}: {out}",
                       "check the repository state with `git status`")
    return proc.stdout[:-1] if proc.stdout.endswith("\n") else proc.stdout


def repo_root(path: str | Path) -> Path | None:
    """The top folder of the git work tree containing `path`, or None when it is not in one."""
    out = run_git(path, "rev-parse", "--show-toplevel", check=False)
    return Path(out) if out else None


def changed_files(root: str | Path) -> list[str]:
    """Paths (relative to `root`) changed against HEAD: staged, unstaged and untracked, deleted ones excluded.

    Uses `-z` so unusual file names survive. Works in a repository with no commits yet."""
    toplevel = repo_root(root)
    if toplevel is None:
        return []
    prefix = Path(root).resolve().relative_to(toplevel.resolve()).as_posix()
    out = run_git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", ".")
    paths = []
    for entry in out.split("\0"):
        if len(entry) < 4 or "D" in entry[:2]:
            continue
        path = entry[3:]
        if prefix != ".":
            if not path.startswith(prefix + "/"):
                continue
            path = path[len(prefix) + 1:]
        paths.append(path)
    return paths
