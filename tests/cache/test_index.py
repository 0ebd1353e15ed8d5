"""The file index never misses a change: after each of what people and git do to a work tree, every file
whose bytes (or existence) differ from before is among `changed_since`, and `paths()` is exactly the set of
files a folder scan finds. Outside git (or when git cannot tell) there is no index."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from kilngit import layout
from kilngit._io import atomic_write
from kilngit.cache import index
from kilngit.cache.index import IndexState, forget, one_sync, prefetch, sync
from kilngit.project import Project
from tests.cache.git_limits import ctime_tells_git, without_untracked_cache
from tests.conftest import git

TASK = "ffmpeg"


def _files(root: Path) -> dict[str, bytes]:
    """What a folder scan sees: kilngit.yaml and every non-hidden file under tasks/ (ignored ones too)."""
    out = {layout.MANIFEST: (root / layout.MANIFEST).read_bytes()}
    for folder, dirs, files in os.walk(root / "tasks"):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(folder).relative_to(root).as_posix()
        for name in files:
            if not name.startswith("."):
                out[f"{rel}/{name}"] = (Path(folder) / name).read_bytes()
    return out


class Steps:
    def __init__(self, root: Path, rng: random.Random, remote: Path) -> None:
        self.root, self.rng, self.remote = root, rng, remote
        self.commits = [git(root, "rev-parse", "HEAD")]
        self.n = 0
        self.restored: set[Path] = set()

    def _some(self) -> Path | None:
        files = sorted(p for p in (self.root / "tasks").rglob("*") if p.is_file() and ".git" not in p.parts)
        return self.rng.choice(files) if files else None

    def new_file(self) -> None:
        self.n += 1
        shard = f"{self.rng.randrange(256):02x}"
        path = self.root / f"tasks/{TASK}/runs/{shard}/{self.n:04x}/r{self.n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'{{"n": {self.n}}}\n')

    def same_tick_edit(self) -> None:
        """Same size, and the old mtime put back: only ctime tells (git looks at it too). Once per file,
        and only where git can tell (`ctime_tells_git`)."""
        path = self._some()
        if path is None:
            return
        st = path.stat()
        data = bytearray(path.read_bytes() or b"x")
        data[0] = (data[0] + 1) % 128 or 1
        path.write_bytes(bytes(data))
        if path not in self.restored and ctime_tells_git(self.root, path):
            self.restored.add(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def add(self) -> None:
        git(self.root, "add", "-A")

    def staged_then_edited(self) -> None:
        path = self._some()
        if path is not None:
            path.write_text(path.read_text() + " ")
            git(self.root, "add", "-A")
            path.write_text(path.read_text() + "edited")

    def commit(self) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "step", "--allow-empty")
        self.commits.append(git(self.root, "rev-parse", "HEAD"))

    def checkout_old(self) -> None:
        git(self.root, "stash", "-q", "--include-untracked")
        git(self.root, "checkout", "-q", self.rng.choice(self.commits))

    def stash_pop(self) -> None:
        git(self.root, "stash", "-q", "--include-untracked")
        if self.rng.random() < 0.5:
            subprocess.run(["git", "stash", "pop", "-q"], cwd=self.root, capture_output=True)

    def reset_hard(self) -> None:
        git(self.root, "reset", "-q", "--hard", self.rng.choice(self.commits))

    def branch_switch(self) -> None:
        git(self.root, "stash", "-q", "--include-untracked")
        git(self.root, "checkout", "-q", "-B", f"b{self.rng.randrange(3)}", self.rng.choice(self.commits))

    def push_pull(self) -> None:
        """Another clone commits a file and pushes; this one pulls it."""
        other = self.root.parent / f"other{self.n}"
        self.n += 1
        git(self.root, "stash", "-q", "--include-untracked")
        git(self.root, "checkout", "-q", "-B", "main")
        git(self.root, "push", "-q", "-f", str(self.remote), "main")
        git(self.root.parent, "clone", "-q", str(self.remote), other.name)
        path = other / f"tasks/{TASK}/pulled-{self.n}.json"
        path.write_text("{}\n")
        git(other, "add", "-A")
        git(other, "commit", "-qm", "theirs")
        git(other, "push", "-q", "origin", "main")
        git(self.root, "pull", "-q", "--no-rebase", str(self.remote), "main")
        self.commits.append(git(self.root, "rev-parse", "HEAD"))

    def delete_recreate(self) -> None:
        path = self._some()
        if path is not None:
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data if self.rng.random() < 0.5 else data + b"\n")

    def delete(self) -> None:
        path = self._some()
        if path is not None:
            path.unlink()

    def ignored(self) -> None:
        """A file git ignores inside the project: a scan sees it, so the index must too."""
        (self.root / "tasks/.gitignore").write_text("*.ign.json\nscratch/\n")
        (self.root / f"tasks/{TASK}/x{self.n}.ign.json").write_text(f"{self.n}")
        (self.root / "tasks/scratch").mkdir(exist_ok=True)
        (self.root / "tasks/scratch/a.json").write_text(f"{self.n}")
        self.n += 1

    def hidden(self) -> None:
        (self.root / f"tasks/{TASK}/.tmp-{self.n}").write_text("partial")


@pytest.mark.parametrize("seed", [1, 2])
def test_every_change_is_seen(project: Project, tmp_path: Path, seed: int) -> None:
    root = project.root
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    without_untracked_cache(root)
    rng = random.Random(seed)
    steps = Steps(root, rng, remote)
    names = [n for n in vars(Steps) if not n.startswith("_")]
    index = sync(root)
    assert index is not None
    before, state = _files(root), index.state
    for step in range(15):
        name = rng.choice(names)
        getattr(steps, name)()
        index = sync(root)
        assert index is not None, name
        now = _files(root)
        differ = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
        changed = index.changed_since(IndexState.decode(state.encode()))
        assert changed is not None
        assert differ <= changed, f"seed {seed} step {step} ({name}): missed {differ - changed}"
        assert index.paths() == sorted(now), f"seed {seed} step {step} ({name})"
        before, state = now, index.state


def test_unchanged_tree_names_nothing(project: Project) -> None:
    first = sync(project.root)
    assert first is not None
    os.utime(project.root / layout.MANIFEST, ns=(10**18, 10**18))  # far ahead: racy, so always "changed"
    again = sync(project.root)
    assert again is not None
    assert again.changed_since(first.state) - {layout.MANIFEST} == set()
    assert again.changed_since(None) is None


def test_one_sync_asks_git_once_until_a_write(project: Project) -> None:
    """Inside `one_sync` every caller gets git's first answer, until the process writes a file; outside it
    (the watcher, the web app) git is asked every time."""
    root = project.root
    run = sorted((root / "tasks").rglob("*.yaml"))[0]
    with one_sync():
        first = sync(root)
        assert first is not None and sync(root) is first
        with one_sync():  # nested: the same memo
            assert sync(root) is first
        run.write_bytes(run.read_bytes() + b" ")  # not through atomic_write: the memo cannot know
        assert sync(root) is first
        forget()
        second = sync(root)
        assert second is not None and second is not first
        assert run.relative_to(root).as_posix() in second.changed_since(first.state)
        atomic_write(run, run.read_bytes() + b" ")
        third = sync(root)
        assert third is not None and third is not second and sync(root) is third
    assert sync(root) is not sync(root)


def test_prefetch_answers_the_next_sync(project: Project) -> None:
    """`prefetch` starts git early; the next `sync` gets its answer, which is what git says then. Outside
    `one_sync` it does nothing."""
    root = project.root
    prefetch(root)
    with one_sync():
        prefetch(root)
        prefetch(root)  # git was asked already: the same answer, not a second git status
        first = sync(root)
        assert first is not None and sync(root) is first
        prefetch(root)
        assert sync(root) is first
    fresh = sync(root)
    assert fresh is not None and fresh.state == first.state
    with one_sync():
        first = sync(root)
        atomic_write(root / layout.MANIFEST, (root / layout.MANIFEST).read_bytes() + b"\n")
        prefetch(root)  # after a write git is asked again
        assert sync(root) not in (first, None)
    assert index.MANIFEST == layout.MANIFEST and index.LOCAL_STATE == layout.LOCAL_STATE


def test_a_git_whose_answer_is_never_taken_is_waited_for(project: Project) -> None:
    """A command that stops before it takes the prefetched answer (an error, a wrong guess of the entry
    point) leaves no `git status` running: it would hold the index lock against the user's next `git add`."""
    with one_sync():
        prefetch(project.root)
        assert index._memo is not None
        ((_, answer),) = index._memo.values()
        procs = answer._procs
        assert procs
    assert all(proc.returncode is not None for proc in procs)  # waited for, not left running
    git(project.root, "add", "-A")


@pytest.mark.parametrize("guess", ["right", "none", "wrong"])
def test_git_status_started_with_a_wrong_guess_is_started_again(
    project: Project, tmp_path: Path, guess: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git status` starts before git has said where the user's excludes file is (guessed from the global
    config files): when git's own answer differs, `git status` is started again with the right arguments;
    either way the answer is exactly what a folder scan sees (ignored files included), and no git is left
    running nor an index lock behind."""
    root = project.root
    ignore = tmp_path / "ignore"
    ignore.write_text("*.ign.json\n")
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    # The guess reads the global and the repository's config files, not the files they include.
    included = tmp_path / "included"
    if guess == "right":
        with open(os.environ["GIT_CONFIG_GLOBAL"], "a") as f:
            f.write(f"[core]\n\texcludesFile = {ignore}\n")
        included.write_text("")
    elif guess == "wrong":  # the global config names a file with a pattern; an include overrides it
        with open(os.environ["GIT_CONFIG_GLOBAL"], "a") as f:
            f.write(f"[core]\n\texcludesFile = {ignore}\n")
        included.write_text(f"[core]\n\texcludesFile = {empty}\n")
    else:  # no file the guess reads names one; an include does
        included.write_text(f"[core]\n\texcludesFile = {ignore}\n")
    git(root, "config", "include.path", str(included))
    folder = next(p.parent for p in (root / "tasks").rglob("*.yaml"))
    (folder / "x.ign.json").write_text("{}\n")
    started = []
    real_start = index._start_status
    monkeypatch.setattr(index, "_start_status", lambda *a: started.append(a[1]) or real_start(*a))
    with one_sync():
        prefetch(root)
        assert index._memo is not None
        ((_, answer),) = index._memo.values()
        found = sync(root)
        procs = answer._procs
    assert found is not None and found.paths() == sorted(_files(root))
    expected = {"right": [True], "none": [False, True], "wrong": [True, False]}[guess]
    assert [("--ignored=traditional" in args) for args in started] == expected
    assert all(proc.returncode is not None for proc in procs)
    assert not (root / ".git/index.lock").exists()
    git(root, "add", "-A")


def test_no_index_outside_git_or_with_a_submodule(project: Project, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "tasks").mkdir(parents=True)
    (plain / layout.MANIFEST).write_text("kind: project\n")
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))
    os.environ["GIT_CEILING_DIRECTORIES"] = env["GIT_CEILING_DIRECTORIES"]
    try:
        assert sync(plain) is None
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]
    sub = tmp_path / "sub"
    git(tmp_path, "init", "-q", str(sub))
    git(sub, "commit", "-q", "--allow-empty", "-m", "x")
    git(project.root, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "tasks/sub")
    (project.root / "tasks/sub/new.json").write_text("{}")
    assert sync(project.root) is None


def test_state_decode_refuses_garbage() -> None:
    assert IndexState.decode("not json") is None
    assert IndexState.decode('{"a": 1}') is None
    assert IndexState.decode("[null, {}]") == IndexState(None, {})


@pytest.mark.parametrize("where", ["ai", "code/ai"])
def test_a_project_untracked_as_a_whole_in_a_subfolder(project: Project, tmp_path: Path, where: str) -> None:
    """A project copied into a folder of a repository that git does not track yet: `git status` names only
    the folder (the project's own, or one above it), and every file in it is listed."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README").write_text("code\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code")
    root = repo / where
    root.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(project.root), str(root)], check=True)
    subprocess.run(["rm", "-rf", str(root / ".git")], check=True)
    found = sync(root)
    assert found is not None
    assert found.paths() == sorted(_files(root))
    assert found.paths("tasks/") == sorted(p for p in _files(root) if p.startswith("tasks/"))


def test_a_new_file_does_not_make_git_write_its_index(project: Project) -> None:
    """A new file in a folder git tracks changes that folder's entry of git's untracked cache: plain
    `git status` then writes the whole index again (97 MB at 1M records), kilngit's question does not, and
    still names the file every time."""
    root = project.root
    hour_ago = (root / ".git/index").stat().st_mtime - 3600
    for path in root.rglob("*"):  # no file "racily clean" (changed in the second of the index's write),
        if ".git" not in path.relative_to(root).parts:  # which git would refresh and write the index for
            os.utime(path, (hour_ago, hour_ago), follow_symlinks=False)
    git(root, "status", "--porcelain")  # git's cache and stat data up to date (the copy changed every ctime)
    folder = next(p.parent for p in (root / "tasks").rglob("*.yaml"))
    (folder / "new.json").write_text("{}\n")
    written = (root / ".git/index").stat()
    for _ in range(2):
        found = sync(root)
        assert found is not None and (folder / "new.json").relative_to(root).as_posix() in found.state.dirty
        now = (root / ".git/index").stat()
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (
            written.st_ino,
            written.st_mtime_ns,
            written.st_size,
        )
