"""Internal: every git call kilngit makes goes through `run_git`.

Git runs as a plain subprocess per call (safe in a long-running daemon, unlike GitPython's `repo.index`,
and with full control of the environment): inherited `GIT_*` variables that point at a repository or index
are stripped, so a hook or a daemon started from one repository never acts on another.
"""

from __future__ import annotations

import contextlib
import locale
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kilngit.errors import GitError

# Variables that would make git act on a different repository or index than the one we name.
_STRIP = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


def git_env() -> dict[str, str]:
    """The environment git commands run with."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("LC_ALL", "C")
    return env


def run_git(
    cwd: str | Path,
    *args: str,
    check: bool = True,
    input: str | bytes | None = None,
    timeout: float | None = None,
) -> str:
    """Run `git ARGS` in `cwd` and return its stdout without the final newline.

    `input` may be bytes (e.g. a `git fast-import` stream); `timeout` (seconds) bounds network commands. On
    failure raise `GitError` showing the command, its exit code and its output (or return "" when `check`
    is False)."""
    proc = _run(cwd, args, input, timeout)
    if proc.returncode != 0:
        if not check:
            return ""
        out = " ".join(x.strip() for x in (proc.stdout, proc.stderr) if x.strip())
        raise GitError(
            f"`git {' '.join(args)}` failed with exit code {proc.returncode}: {out}",
            "check the repository state with `git status`",
        )
    return proc.stdout[:-1] if proc.stdout.endswith("\n") else proc.stdout


def start_git(cwd: str | Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `git ARGS` in `cwd` and return at once; `finish_git` waits for it. For a caller with other
    work to do while git runs (the warm `validate` imports its checks meanwhile). `env`: variables set for
    this command unless the caller's environment sets them already."""
    try:
        return subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env={**(env or {}), **git_env()},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH", "install git") from e


def finish_git(proc: subprocess.Popen[str]) -> str:
    """What `run_git` returns, for a command `start_git` started (`GitError` when it failed)."""
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        out = " ".join(x.strip() for x in (stdout, stderr) if x.strip())
        args = " ".join(str(a) for a in proc.args[1:])  # type: ignore[index]
        raise GitError(
            f"`git {args}` failed with exit code {proc.returncode}: {out}",
            "check the repository state with `git status`",
        )
    return stdout[:-1] if stdout.endswith("\n") else stdout


def _run(
    cwd: str | Path, args: tuple[str, ...], input: str | bytes | None, timeout: float | None
) -> subprocess.CompletedProcess[str]:
    full_env = git_env()
    try:
        with _stdin(input) as stdin:
            if isinstance(input, bytes):  # binary input (file contents for fast-import); output is still text
                proc = subprocess.run(
                    ["git", *args], cwd=cwd, env=full_env, stdin=stdin, capture_output=True, timeout=timeout
                )
                return subprocess.CompletedProcess(
                    proc.args,
                    proc.returncode,
                    proc.stdout.decode(errors="replace"),
                    proc.stderr.decode(errors="replace"),
                )
            return subprocess.run(
                ["git", *args],
                cwd=cwd,
                env=full_env,
                stdin=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
    except FileNotFoundError as e:
        raise GitError("git is not installed or not on PATH", "install git") from e
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(["git", *args], 124, "", f"timed out after {e.timeout:g}s")


@contextlib.contextmanager
def _stdin(input: str | bytes | None) -> Iterator[IO[bytes] | None]:
    """git's standard input: `input` in an unlinked temporary file, never a pipe. A pipe cut short by a kill -9
    of this process ends git's input early, and git takes what it got as the whole: `update-index
    --index-info` then stages the half-written last path (the watcher's index step) and `fast-import` reads
    a cut stream. From a file git reads all of `input`, or nothing when this process dies before git starts."""
    if input is None:
        yield None
        return
    with tempfile.TemporaryFile() as f:
        f.write(input if isinstance(input, bytes) else input.encode(_ENCODING))
        f.seek(0)
        yield f


#: What `subprocess.run(text=True)` would encode text input with (the locale's; UTF-8 mode too).
_ENCODING = locale.getpreferredencoding(False)


@dataclass(frozen=True)
class GitResult:
    """The full outcome of one git command, for callers that act on failures (push rejected, lock held)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def output(self) -> str:
        return " ".join(x.strip() for x in (self.stdout, self.stderr) if x.strip())


def git_result(
    cwd: str | Path, *args: str, input: str | None = None, timeout: float | None = None
) -> GitResult:
    """Run `git ARGS` and return its exit code and output without raising on failure."""
    proc = _run(cwd, args, input, timeout)
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def is_lock_error(text: str) -> bool:
    """True when git failed because another git process holds a lock file (index.lock, HEAD.lock, ...)."""
    return ".lock': File exists" in text or ("Unable to create" in text and ".lock" in text)


def run_git_waiting(cwd: str | Path, *args: str, input: str | None = None, wait_s: float = 60.0) -> str:
    """`run_git`, but when another git process holds a lock (an editor's git integration, a `git commit`
    in a terminal) wait and retry for up to `wait_s` seconds instead of failing."""
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        result = git_result(cwd, *args, input=input)
        if result.ok:
            out = result.stdout
            return out[:-1] if out.endswith("\n") else out
        if not is_lock_error(result.output) or time.monotonic() >= deadline:
            raise GitError(
                f"`git {' '.join(args)}` failed with exit code {result.returncode}: {result.output}",
                "another git command may hold a lock: wait for it, or remove a stale "
                ".git/index.lock left by a crashed one"
                if is_lock_error(result.output)
                else "check the repository state with `git status`",
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def repo_root(path: str | Path) -> Path | None:
    """The top folder of the git work tree containing `path`, or None when it is not in one."""
    out = run_git(path, "rev-parse", "--show-toplevel", check=False)
    return Path(out) if out else None


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def staged_files(root: str | Path) -> list[str]:
    """Paths (relative to `root`) staged for the next commit, deleted ones excluded.

    Compares the index with HEAD only (no work-tree scan), so it stays fast in a million-file repository."""
    base = "HEAD" if run_git(root, "rev-parse", "--verify", "-q", "HEAD", check=False) else EMPTY_TREE
    out = run_git(
        root, "diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=d", "--relative", base
    )
    return [p for p in out.split("\0") if p]


def changed_files(root: str | Path) -> list[str]:
    """Paths (relative to `root`) changed against HEAD: staged, unstaged and untracked, deleted ones excluded.

    Uses `-z` so unusual file names survive. Works in a repository with no commits yet. Untracked folders are
    listed by git as folders (so its untracked cache applies, which `-uall` would bypass) and walked here."""
    toplevel = repo_root(root)
    if toplevel is None:
        return []
    prefix = Path(root).resolve().relative_to(toplevel.resolve()).as_posix()
    out = run_git(toplevel, "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--no-renames")
    paths = []
    for entry in out.split("\0"):
        if len(entry) < 4 or "D" in entry[:2]:
            continue
        path = entry[3:]
        if prefix != ".":
            if not path.startswith(prefix + "/"):
                continue
            path = path[len(prefix) + 1 :]
        if path.endswith("/"):
            paths += _files_under(Path(root), path.rstrip("/"))
        else:
            paths.append(path)
    return paths


def _files_under(root: Path, reldir: str) -> list[str]:
    out = []
    for folder, _dirs, files in os.walk(root / reldir):
        rel = Path(folder).relative_to(root).as_posix()
        out += [f"{rel}/{name}" for name in files]
    return out
