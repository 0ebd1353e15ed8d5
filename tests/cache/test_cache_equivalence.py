"""The cache never changes an outcome: random edit sequences on a real git project, and after every step
`validate` (cached) says exactly what `validate --no-cache` says, and the project loader reads the same
records with and without the cache.

Seeded, so a failure replays; small, so it is fast. Edits are what people and git do: create, edit within
the same clock tick (same size, even with the old mtime put back), delete, rename, hand-edit to invalid,
change the task a check reads, commit and check out another commit, corrupt or delete the cache.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
from contextlib import closing, suppress
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.cache.keys import stat_key
from kilngit.cache.store import CACHE_DIR, DB_NAME
from kilngit.project import Project
from kilngit.records import Annotation, Rating, TaskRun
from kilngit.records.common import Source
from kilngit.validate import validate_project
from tests.cache.git_limits import ctime_tells_git, without_untracked_cache
from tests.conftest import git

TASK = "ffmpeg"


def _outcome(root: Path, cache: bool, workers: int = 1) -> tuple[object, ...]:
    report = validate_project(root, cache=cache, workers=workers)
    return dict(report.kinds), [p.to_dict() for p in report.problems]


def _loaded(root: Path, monkeypatch: pytest.MonkeyPatch, cache: bool) -> tuple[object, ...]:
    if not cache:
        monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    try:
        project = Project(root)
        runs = [(k, r.model_dump()) for k, r in project.runs(TASK).items()]  # in order
        anns = [(a.run, a.rater, a.model_dump_json()) for a in project.annotations(TASK)]  # in order
        return runs, anns, sorted(str(p) for p in project.problems)
    finally:
        monkeypatch.delenv("KILNGIT_NO_CACHE", raising=False)


class Editor:
    def __init__(self, project: Project, rng: random.Random) -> None:
        self.project, self.root, self.rng = project, project.root, rng
        self.commits = [git(self.root, "rev-parse", "HEAD")]
        self.restored: set[Path] = set()

    def files(self, under: str = "tasks") -> list[Path]:
        return sorted(p for p in (self.root / under).rglob("*.json") if p.is_file())

    def create_run(self) -> None:
        n = self.rng.randrange(1000)
        person = Source(type="human", created_by="alice@example.com")
        run = TaskRun(
            task=TASK,
            input=f"convert {n}.mov",
            input_source=person,
            output=f"ffmpeg -i {n}.mov",
            output_source=person,
        ).with_id()
        self.project.write_record(run)

    def model_run(self) -> None:
        """A model-made run: two of the same input, config and sample are duplicates (a warning)."""
        n = self.rng.randrange(3)
        person = Source(type="human", created_by="alice@example.com")
        model = Source(type="synthetic", model="m", provider="p", run_config="mini")
        run = TaskRun(
            task=TASK,
            input=f"convert {n}.mov",
            input_source=person,
            output=f"ffmpeg -i {n}.mov {self.rng.randrange(4)}.mp4",
            output_source=model,
        ).with_id()
        self.project.write_record(run)

    def annotate(self) -> None:
        runs = self.files(f"tasks/{TASK}/runs")
        if not runs:
            return self.create_run()
        run = self.rng.choice(runs).stem
        rating = self.rng.choice([Rating(type="five_star", value=4), Rating(type="pass_fail", value=1)])
        reqs = {"speed": Rating(type="pass_fail", value=1)} if self.rng.random() < 0.2 else {}
        self.project.write_record(
            Annotation(
                task=TASK,
                run=run,
                rater=self.rng.choice(["ann@x.org", "bo@x.org"]),
                rating=rating,
                requirements=reqs,
            )
        )

    def same_size_edit(self) -> None:
        """Flip one letter of a value: same size, same tick; sometimes even the old mtime put back."""
        files = self.files()
        if not files:
            return
        path = self.rng.choice(files)
        st = path.stat()
        data = bytearray(path.read_bytes())
        at = data.find(b"ffmpeg")
        if at < 0:
            return
        data[at] = ord("F") if data[at] == ord("f") else ord("f")
        path.write_bytes(bytes(data))
        if self.rng.random() < 0.5 and path not in self.restored and ctime_tells_git(self.root, path):
            self.restored.add(path)  # once per file, and only where git itself can tell
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def invalid(self) -> None:
        files = self.files()
        if files:
            path = self.rng.choice(files)
            path.write_bytes(path.read_bytes()[: self.rng.randrange(1, 30)])

    def delete(self) -> None:
        files = self.files()
        if files:
            self.rng.choice(files).unlink()

    def rename(self) -> None:
        files = self.files()
        if len(files) >= 2:
            a, b = self.rng.sample(files, 2)
            a.rename(b)  # b's content is gone, a's sits at b's path

    def retask(self) -> None:
        """Change what the annotation check reads: the task's requirements."""
        path = self.root / layout.task_file(TASK)
        text = path.read_text()
        if "speed" in text:
            path.write_text(text.replace("  - name: speed\n    instruction: Fast.\n", ""))
        else:
            path.write_text(
                text.replace("requirements:\n", "requirements:\n  - name: speed\n    instruction: Fast.\n")
            )

    def commit(self) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "step", "--allow-empty")
        self.commits.append(git(self.root, "rev-parse", "HEAD"))

    def checkout(self) -> None:
        git(self.root, "add", "-A")
        git(self.root, "stash", "-q")  # keeps the work tree changes out of the way, like a real switch would
        git(self.root, "checkout", "-q", self.rng.choice(self.commits))

    def corrupt_cache(self) -> None:
        db = self.root / CACHE_DIR / DB_NAME
        if db.exists():
            db.write_bytes(b"this is not a database" * self.rng.randrange(1, 100))

    def drop_cache(self) -> None:
        for p in (self.root / CACHE_DIR).glob("*"):
            p.unlink()

    def nothing(self) -> None:
        pass

    # ---- what git does to the work tree (validate then asks git what changed: `cache.snapshot`) ----

    def stage(self) -> None:
        git(self.root, "add", "-A")

    def staged_then_edited(self) -> None:
        self.same_size_edit()
        git(self.root, "add", "-A")
        self.same_size_edit()

    def stash(self) -> None:
        git(self.root, "stash", "-q", "--include-untracked")
        if self.rng.random() < 0.5:
            subprocess.run(["git", "stash", "pop", "-q"], cwd=self.root, capture_output=True)

    def reset_hard(self) -> None:
        git(self.root, "reset", "-q", "--hard", self.rng.choice(self.commits))

    def branch_switch(self) -> None:
        git(self.root, "stash", "-q", "--include-untracked")
        git(self.root, "checkout", "-q", "-B", f"b{self.rng.randrange(3)}", self.rng.choice(self.commits))

    def pull(self) -> None:
        """Another clone adds a run and pushes it to a real bare remote; this one pulls."""
        remote = self.root.parent / "remote.git"
        if not remote.exists():
            git(self.root.parent, "init", "-q", "--bare", str(remote))
        self.commit()
        git(self.root, "push", "-q", "-f", str(remote), "HEAD:refs/heads/main")
        other = self.root.parent / f"other{len(self.commits)}"
        git(self.root.parent, "clone", "-q", "-b", "main", str(remote), other.name)
        theirs = Editor(Project(other), self.rng)
        theirs.create_run()
        theirs.commit()
        git(other, "push", "-q", "origin", "HEAD:refs/heads/main")
        git(self.root, "pull", "-q", "--no-rebase", "--no-edit", str(remote), "main")
        self.commits.append(git(self.root, "rev-parse", "HEAD"))

    def delete_recreate(self) -> None:
        files = self.files()
        if files:
            path = self.rng.choice(files)
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data)

    def stray_files(self) -> None:
        """Untracked odds and ends in a record folder: a note, a symlink, an ignored file."""
        runs = self.root / f"tasks/{TASK}/runs"
        runs.mkdir(parents=True, exist_ok=True)
        what = self.rng.randrange(3)
        if what == 0:
            (runs / "notes.txt").write_text("todo")
        elif what == 1:
            link = runs / f"link{self.rng.randrange(3)}.json"
            if not link.is_symlink():
                link.symlink_to("../task.yaml")
        else:
            (self.root / "tasks/.gitignore").write_text("scratch/\n*.tmp.json\n")
            (runs / "x.tmp.json").write_text("{}")
            (self.root / "tasks/scratch").mkdir(exist_ok=True)
            (self.root / "tasks/scratch/a.json").write_text("[]")


WEIGHTS = {
    "create_run": 5,
    "annotate": 5,
    "model_run": 4,
    "same_size_edit": 5,
    "invalid": 2,
    "delete": 2,
    "rename": 2,
    "retask": 2,
    "commit": 2,
    "checkout": 1,
    "corrupt_cache": 1,
    "drop_cache": 1,
    "nothing": 3,
    "stage": 1,
    "staged_then_edited": 1,
    "stash": 1,
    "reset_hard": 1,
    "branch_switch": 1,
    "pull": 1,
    "delete_recreate": 1,
    "stray_files": 1,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cached_outcomes_equal_uncached(project: Project, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _equal_after_random_steps(project, seed, monkeypatch)


def test_without_git_cached_outcomes_equal_uncached(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same without git's view (outside a work tree): every file's lstat key decides."""
    monkeypatch.setenv("KILNGIT_NO_GIT_INDEX", "1")
    _equal_after_random_steps(project, 4, monkeypatch)


def test_with_workers_in_small_chunks_cached_outcomes_equal_uncached(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with every read by two workers in chunks of three, each chunk stored as it arrives, and the
    snapshot rebuilt whenever more than three files changed (a fill chunk by chunk, `cache.snapshot`)."""
    from kilngit.cache import files, snapshot

    monkeypatch.setattr(files, "_PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(files, "_CHUNK", 3)
    monkeypatch.setattr(snapshot, "_MOST_CHANGED", 3)
    add, chunks = snapshot._Fill.add, []

    def counted(self: snapshot._Fill, items: list[tuple[str, object]]) -> None:
        chunks.append(self.live)
        add(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot._Fill, "add", counted)
    _equal_after_random_steps(project, 5, monkeypatch, workers=2)
    assert chunks.count(True) > 10  # snapshots were filled chunk by chunk


def _equal_after_random_steps(
    project: Project, seed: int, monkeypatch: pytest.MonkeyPatch, workers: int = 1
) -> None:
    without_untracked_cache(project.root)
    rng = random.Random(seed)
    editor = Editor(project, rng)
    for _ in range(6):
        editor.create_run()
    editor.commit()
    steps = list(WEIGHTS)
    hits = 0
    for step in range(40):
        name = rng.choices(steps, [WEIGHTS[s] for s in steps])[0]
        getattr(editor, name)()
        hits += _hits(project.root)
        cached, full = _outcome(project.root, True, workers), _outcome(project.root, False)
        assert cached == full, f"seed {seed} step {step} ({name})"
        assert _outcome(project.root, True, workers) == full, f"seed {seed} step {step} ({name}), second run"
        assert _loaded(project.root, monkeypatch, True) == _loaded(project.root, monkeypatch, False), (
            f"seed {seed} step {step} ({name}): loaded records"
        )
    assert hits > 100  # the cache did answer (else this would compare the reader with itself)
    if not os.environ.get("KILNGIT_NO_GIT_INDEX"):
        assert _snapshot_files(project.root) > 0  # and validate's snapshot was used


def _snapshot_files(root: Path) -> int:
    with closing(sqlite3.connect(root / CACHE_DIR / DB_NAME)) as conn:
        return int(conn.execute("SELECT count(*) FROM snap_files").fetchone()[0])


def _hits(root: Path) -> int:
    """How many files the cache would answer for now (their stored key is still their key)."""
    db = root / CACHE_DIR / DB_NAME
    if not db.exists():
        return 0
    with closing(sqlite3.connect(db)) as conn:
        try:
            rows = conn.execute("SELECT path, key FROM files").fetchall()
        except sqlite3.DatabaseError:
            return 0
    hits = 0
    for path, key in rows:
        with suppress(OSError):
            hits += stat_key(os.lstat(root / path)) == key
    return hits
