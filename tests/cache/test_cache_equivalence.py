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
from tests.conftest import git

TASK = "ffmpeg"


def _outcome(root: Path, cache: bool) -> tuple[object, ...]:
    report = validate_project(root, cache=cache, workers=1)
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
        if self.rng.random() < 0.5:
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


WEIGHTS = {
    "create_run": 5,
    "annotate": 5,
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
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cached_outcomes_equal_uncached(project: Project, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    editor = Editor(project, rng)
    for _ in range(6):
        editor.create_run()
    editor.commit()
    steps = list(WEIGHTS)
    hits = 0
    for step in range(30):
        name = rng.choices(steps, [WEIGHTS[s] for s in steps])[0]
        getattr(editor, name)()
        hits += _hits(project.root)
        cached, full = _outcome(project.root, True), _outcome(project.root, False)
        assert cached == full, f"seed {seed} step {step} ({name})"
        assert _outcome(project.root, True) == full, f"seed {seed} step {step} ({name}), second run"
        assert _loaded(project.root, monkeypatch, True) == _loaded(project.root, monkeypatch, False), (
            f"seed {seed} step {step} ({name}): loaded records"
        )
    assert hits > 100  # the cache did answer (else this would compare the reader with itself)


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
