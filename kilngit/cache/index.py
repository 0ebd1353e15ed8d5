"""Which project files changed, asked of git instead of walking folders and `lstat`-ing every file.

    index = sync(root)                      # FileIndex, or None outside git (or when git cannot tell)
    changed = index.changed_since(state)    # paths changed since an earlier `index.state`; None: unknown
    state = index.state.encode()            # keep it with what you derived; IndexState.decode() it later

    with one_sync():                        # one command: every sync(root) inside asks git once per root
        ...                                 # (again after this process wrote a file with `_io.atomic_write`)

A project's files are `kilngit.yaml` and every file under `tasks/` (hidden names left out, as the folder scan
of `validate` does). In a git work tree every such path that `git status` does not name holds exactly the
blob of HEAD's tree, so the state is (id of HEAD's `tasks` tree, key of each file git does name); a clean
tracked file needs no `lstat`, and two states are compared with one `git diff-tree` plus the few dirty keys.
Files git names -- modified, staged, untracked, and ignored ones too, which `validate` also sees -- are keyed
by path + `lstat` with the racy rule of `keys` (a racy key never equals anything, so its file always counts
as changed). The manifest is always keyed by `lstat` (one file).

`sync` answers None (callers then walk folders as before) outside a git work tree, when git fails, and when
the project holds what git does not describe file by file: a submodule, a merge conflict. Known limits,
those of `git status` itself:
- files marked `assume-unchanged` / `skip-worktree` are taken to be what the index says;
- a file rewritten with the same size within the second git last refreshed it, with its mtime put back by a
  program, can look clean (git compares ctime to the second);
- git's untracked cache (on in kilngit projects, via feature.manyFiles) compares folders to the second, so
  a file that a `.gitignore` removed in that second stops ignoring can go unlisted for that second;
- FIFOs and sockets are not listed.
`validate --no-cache` reads every file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kilngit import _git
from kilngit.cache.keys import RACY, take_stamp
from kilngit.errors import GitError

TASKS = "tasks"
# `layout.MANIFEST` and `layout.LOCAL_STATE`, spelled out: `layout` imports the record models, and the warm
# `validate` starts git before it imports them (tests/cache/test_index.py checks they are equal).
MANIFEST = "kilngit.yaml"
LOCAL_STATE = ".kilngit"
_EMPTY_TREE = _git.EMPTY_TREE


@dataclass(frozen=True)
class IndexState:
    """What a project's files were at one moment: `tree` (HEAD's tree of `tasks/`, None when HEAD has none)
    and `dirty` (path -> key of each file git names; None: the file is gone). Two equal states mean equal
    files. Opaque to callers but for `encode` / `decode`."""

    tree: str | None
    dirty: dict[str, str | None]

    def encode(self) -> str:
        return json.dumps([self.tree, self.dirty], separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> IndexState | None:
        """The state `encode` wrote, or None when `text` is not one (consumers then start afresh)."""
        try:
            tree, dirty = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not (tree is None or isinstance(tree, str)) or not isinstance(dirty, dict):
            return None
        return cls(tree, dirty)


class FileIndex:
    """The project's files as git sees them now (see the module's docstring)."""

    def __init__(self, root: Path, state: IndexState, stamp_ns: int) -> None:
        self.root = root
        self.state = state
        self.stamp_ns = stamp_ns
        """The racy stamp taken before git looked (`keys.take_stamp`): files changed since look racy."""

    def changed_since(self, old: IndexState | None) -> set[str] | None:
        """Paths (relative to the root) whose content may differ between `old` and now: added, deleted and
        changed files, never fewer (a file may be named that did not change). None when `old` is None or
        git cannot compare (e.g. its tree was garbage-collected): treat everything as changed."""
        if old is None:
            return None
        changed = {p for p in old.dirty.keys() | self.state.dirty.keys() if _differs(old, self.state, p)}
        if old.tree != self.state.tree:
            entries = _diff_tree(self.root, old.tree or _EMPTY_TREE, self.state.tree or _EMPTY_TREE)
            if entries is None:
                return None
            changed.update(entries)
        return changed

    def paths(self, under: str = "") -> list[str]:
        """Every project file now, sorted (one `git ls-tree` of HEAD's tree plus the dirty files); with
        `under` (a folder below `tasks/`, ending in "/"), those in it only."""
        dirty = {p: key for p, key in self.state.dirty.items() if p.startswith(under)}
        found = _ls_tree(self.root, self.state.tree, under) if self.state.tree is not None else []
        if dirty:
            found = [p for p in found if p not in dirty]
            found += [p for p, key in dirty.items() if key is not None]
        found.sort()
        return found


_memo: dict[Path, tuple[int, _Answer]] | None = None
"""Inside `one_sync`: root -> (`_io.writes` when git was asked, its answer). None outside."""


@contextlib.contextmanager
def one_sync() -> Iterator[None]:
    """Within this block `sync(root)` asks git once per root and hands the same answer to every caller (the
    snapshot, each view), until this process writes a file through `_io.atomic_write`: then git is asked
    again. For one command, not for long-lived processes (the watcher, the web app: files change under
    them), and not around code that changes files by other means (git commands, `os.replace`) before it
    reads them again, unless it calls `forget()`."""
    global _memo
    if _memo is not None:
        yield  # nested: the outer block owns the memo
        return
    _memo = {}
    try:
        yield
    finally:
        memo, _memo = _memo, None
        for _, answer in memo.values():
            answer.settle()


def forget() -> None:
    """Make the next `sync` inside `one_sync` ask git again (after a write `_io.writes` does not count)."""
    if _memo is not None:
        _memo.clear()


def prefetch(root: Path) -> None:
    """Inside `one_sync`: start asking git now and return at once, so that the next `sync(root)` finds the
    answer ready (the warm `validate` imports its checks while `git status` runs). Nothing outside it, and
    nothing when git was already asked since this process last wrote a file (`sync` would reuse that)."""
    if _memo is None or os.environ.get("KILNGIT_NO_GIT_INDEX"):
        return
    root = Path(root).absolute()
    writes = _writes()
    known = _memo.get(root)
    if known is None or known[0] != writes:
        _memo[root] = (writes, _start(root))


def ready(root: Path) -> bool:
    """Whether the next `sync(root)` would answer at once (git has finished, or nothing was prefetched)."""
    known = _memo.get(Path(root).absolute()) if _memo is not None else None
    return known is None or known[1].ready()


def _writes() -> int:
    # Looked up, not imported: `_io` pulls in ruamel.yaml, which the warm validate never needs; when it was
    # never imported, nothing was written through it.
    io = sys.modules.get("kilngit._io")
    return getattr(io, "writes", 0) if io is not None else 0


def sync(root: Path) -> FileIndex | None:
    """The project's files at `root` as git sees them now, or None when git cannot tell (see the module).
    Inside `one_sync`, git is asked once per root (see there)."""
    if os.environ.get("KILNGIT_NO_GIT_INDEX"):
        return None
    root = Path(root).absolute()
    if _memo is None:
        return _start(root)()
    writes = _writes()
    known = _memo.get(root)
    if known is None or known[0] != writes:
        known = _memo[root] = (writes, _start(root))
    return known[1]()


class _Answer:
    """git's answer, being computed: `ready()` says whether git has finished, calling it waits (once).
    `procs`: every git started for it; `finish` turns them into the answer (it may start another)."""

    def __init__(
        self, procs: list[subprocess.Popen[str]], finish: Callable[[], FileIndex | None] = lambda: None
    ) -> None:
        self._procs, self._finish = procs, finish
        self._got: list[FileIndex | None] = []

    def ready(self) -> bool:
        return bool(self._got) or all(p.poll() is not None for p in self._procs)

    def settle(self) -> None:
        """Wait for any git still running (one whose answer was never taken: the command failed or stopped
        before it): a `git status` left running holds the repository's index lock, and the user's next
        `git add` fails."""
        for proc in self._procs:
            if proc.returncode is None:
                proc.communicate()

    def __call__(self) -> FileIndex | None:
        if not self._got:
            try:
                self._got.append(self._finish())
            except (GitError, OSError, ValueError):
                self._got.append(None)
            self.settle()  # any git `finish` did not need (it answered before reading them all)
        return self._got[0]


def _start(root: Path) -> _Answer:
    """Start git on the question and return how to get the answer (git runs meanwhile)."""
    stamp = take_stamp(root / LOCAL_STATE / "cache")  # before git looks: later changes look racy
    try:
        return _sync(root, stamp)
    except (GitError, OSError, ValueError):
        return _Answer([])


def _sync(root: Path, stamp: int) -> _Answer:
    """`git status` with the arguments the project's place asks for (`_status_args`), which two more gits
    tell: `rev-parse` and the user's excludes file. All three start at once, `status` first with the
    arguments of the common case (the project at the top of its work tree) and the excludes file guessed;
    when the other two say otherwise, it is started again once the first one has finished. (A `git status`
    is never signalled: git sets up the removal of its lock files on a signal only after it has created the
    first one, so a signal in between leaves `index.lock` behind and the user's next `git add` fails.)"""
    common = ("", root, root / ".git", _guessed_excludes(root))  # (prefix, top, git dir, excludes file)
    guessed = _status_args(root, *common)
    status = _start_status(root, guessed) if (root / ".git").is_dir() else None  # first: the long one
    head = _git.start_git(
        root, "rev-parse", "--show-prefix", "--git-dir", "--show-toplevel", f"HEAD:./{TASKS}"
    )
    excludes = _git.start_git(root, "config", "--path", "--get", "core.excludesFile")

    def finish() -> FileIndex | None:
        lines = head.communicate()[0].splitlines()
        if head.returncode == 0 and len(lines) == 4:
            prefix, git_dir, top, tree = lines
        else:
            found = _git.git_result(root, "rev-parse", "--show-prefix", "--git-dir", "--show-toplevel")
            if not found.ok:
                return None  # not a git work tree
            (prefix, git_dir, top), tree = (
                found.stdout.splitlines(),
                None,
            )  # no commit yet, or no tasks/ in it
        configured = excludes.communicate()[0].strip()  # "" (exit code 1) when not set
        place = (prefix, Path(top), root / git_dir, configured)
        proc = status
        if proc is None or (place != common and _status_args(root, *place) != guessed):
            if proc is not None:
                proc.communicate()  # waited for, not stopped: see the docstring
            proc = _start_status(root, _status_args(root, *place))
        return _parse(root, stamp, prefix, tree, _git.finish_git(proc))

    return _Answer([p for p in (head, excludes, status) if p is not None], finish)


def _status_args(root: Path, prefix: str, top: Path, git_dir: Path, configured: str) -> list[str]:
    args = ["status", "--porcelain=v2", "-z", "--no-renames"]
    # Untracked folders as folders (walked here) and no path limit: both keep git's untracked cache in use
    # (`-uall`, `--ignored` or a pathspec each make git walk every folder, twice the time at 100k files).
    args.append("--untracked-files=normal")
    if _may_ignore(root, top, git_dir, configured):
        args.append("--ignored=traditional")  # a folder scan sees ignored files: so must we
    if prefix:
        args += ["--", "."]
    return args


def _start_status(root: Path, args: list[str]) -> subprocess.Popen[str]:
    return _git.start_git(root, "-c", "core.quotePath=false", *args, env=_NO_UNTRACKED_WRITE)


# git's untracked cache (feature.manyFiles turns it on) keeps each folder's untracked names in the index. With
# it on, every `git status` that finds a folder changed since the index was written writes the whole index
# again (97 MB at 1M records, about 0.5 CPU-s of a warm `status` after a verdict edit: a new file). This
# asks git to write it only for what git must keep (a new cache, refreshed entries), as older git did:
# the few folders changed since are read again, which git does anyway to list their files.
_NO_UNTRACKED_WRITE = {"GIT_FORCE_UNTRACKED_CACHE": "0"}


def _parse(root: Path, stamp: int, prefix: str, tree: str | None, out: str) -> FileIndex | None:
    dirty: dict[str, str | None] = {}
    for entry in out.split("\0"):
        if not entry:
            continue
        if entry[0] in "?!":
            path = entry[2:]
        elif entry[0] == "1":
            fields = entry.split(" ", 8)
            if fields[2] != "N...":
                return None  # a submodule: git names it, not the files in it that changed
            path = fields[8]
        else:
            return None  # "u": a conflict (or "2": a rename, which --no-renames should not give)
        if path.endswith("/") and prefix.startswith(path):
            _walk(root, TASKS, stamp, dirty)  # the project's folder, or one above it, is untracked as a whole
            continue
        if not path.startswith(prefix):
            continue
        path = path[len(prefix) :]
        if not path.startswith(TASKS + "/"):
            continue  # outside the project's files (the manifest is keyed below)
        if path.endswith("/"):
            _walk(root, path.rstrip("/"), stamp, dirty)
        elif not hidden(path):
            dirty[path] = _key(root, path, stamp)
    dirty[MANIFEST] = _key(root, MANIFEST, stamp)
    return FileIndex(root, IndexState(tree, dirty), stamp)


def _may_ignore(root: Path, top: Path, git_dir: Path, configured: str) -> bool:
    """Whether git might ignore a project file: an ignore pattern other than hidden names (`.kilngit/`)
    in the `.gitignore` files from the work tree's top down to `tasks/*/*/`, `info/exclude` or the user's
    excludes file (`configured`: git's core.excludesFile, "" when not set). (A `.gitignore` deeper in
    `tasks/` is not looked for.)"""
    sources = [git_dir / "info" / "exclude"]
    folder = root
    while True:
        sources.append(folder / ".gitignore")
        if folder == top or folder.parent == folder:
            break
        folder = folder.parent
    tasks = root / TASKS
    sources.append(tasks / ".gitignore")
    for sub in _subfolders(tasks):
        sources.append(sub / ".gitignore")
        sources += [s / ".gitignore" for s in _subfolders(sub)]
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    sources.append(Path(configured) if configured else Path(xdg) / "git" / "ignore")
    for source in sources:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and not line.lstrip("/").startswith("."):
                return True
    return False


def _guessed_excludes(root: Path) -> str:
    """What `git config --path --get core.excludesFile` most likely answers, read from the global and the
    repository's config files without starting git (includes, the system file and `-c` are not followed):
    only a guess, so that `git status` can start with the right arguments at once; git's answer decides."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    configs = [os.environ["GIT_CONFIG_GLOBAL"]] if os.environ.get("GIT_CONFIG_GLOBAL") else []
    configs = configs or [os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")]
    found = ""
    for config in (*configs, os.path.join(root, ".git", "config")):  # the last one found wins, as in git
        try:
            with open(config, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for m in _EXCLUDES_LINE.finditer(text):
            found = m.group(1).strip('"')
    return os.path.join(home, found[2:]) if found.startswith("~/") else found


_EXCLUDES_LINE = re.compile(r"^\s*excludesfile\s*=\s*(.*?)\s*$", re.I | re.M)


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return [
                Path(e.path) for e in it if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
            ]
    except OSError:
        return []


def _walk(root: Path, reldir: str, stamp: int, into: dict[str, str | None]) -> None:
    """Key every non-hidden entry under an untracked or ignored folder (symlinks not followed)."""
    if hidden(reldir):
        return
    top = os.fspath(root)
    stack = [reldir]
    while stack:  # strings, not Paths: a folder of a freshly imported project holds thousands of files
        rel = stack.pop()
        try:
            it = os.scandir(os.path.join(top, rel))
        except OSError:
            continue
        with it:
            for e in it:
                if e.name.startswith("."):
                    continue
                path = f"{rel}/{e.name}"
                if e.is_dir(follow_symlinks=False):
                    stack.append(path)
                else:
                    try:
                        into[path] = _stat_key(e.stat(follow_symlinks=False), stamp)
                    except OSError:
                        into[path] = None


def _key(root: Path, relpath: str, stamp: int) -> str | None:
    """Path + `lstat` key of a file git names (a symlink or FIFO gets one too: its problem is reported)."""
    try:
        st = os.lstat(os.path.join(root, relpath))
    except OSError:
        return None
    return _stat_key(st, stamp)


def _stat_key(st: os.stat_result, stamp: int) -> str | None:
    if stat.S_ISDIR(st.st_mode):
        return None
    if max(st.st_mtime_ns, st.st_ctime_ns) >= stamp:
        return RACY
    return f"s:{st.st_mode:o}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _differs(old: IndexState, new: IndexState, relpath: str) -> bool:
    a, b = old.dirty.get(relpath, ""), new.dirty.get(relpath, "")
    return a != b or a == RACY or a == "" or b == ""  # "": clean, its blob is compared by the tree diff


def hidden(relpath: str) -> bool:
    """A hidden name on the way (temp files, an import's stage): never a project file."""
    return relpath.startswith(".") or "/." in relpath


def _diff_tree(root: Path, old: str, new: str) -> set[str] | None:
    result = _git.git_result(root, "diff-tree", "-r", "-z", "--no-renames", old, new)
    if not result.ok:
        return None
    parts = result.stdout.split("\0")
    out = set()
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        if not hidden(path):
            out.add(f"{TASKS}/{path}")
    return out


def _ls_tree(root: Path, tree: str, under: str = "") -> list[str]:
    within = under[len(TASKS) + 1 :]  # a pathspec within HEAD's tasks tree
    limit = ["--", within] if within else []
    out = _git.run_git(
        root, "--literal-pathspecs", "ls-tree", "--full-tree", "-r", "-z", "--name-only", tree, *limit
    )
    return [f"{TASKS}/{p}" for p in out.split("\0") if p and not hidden(p)]
