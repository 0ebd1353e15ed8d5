"""A bulk kind's listing (`Project.candidates`) comes from git's index of the project's files, not a walk
of its shard folders; it equals the walk (`KILNGIT_NO_GIT_INDEX=1`) after each of what people and git do to
a work tree, and so do the records a project loads."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kilngit.kinds import KINDS
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, Source, TaskRun
from tests.cache.git_limits import without_untracked_cache
from tests.cache.test_index import TASK, Steps
from tests.conftest import git

LISTINGS = [
    ("task_run", {"task": TASK}),
    ("annotation", {"task": TASK}),
    ("judge_result", {"task": TASK, "eval": "e"}),
]


def _walked(project: Project, monkeypatch: pytest.MonkeyPatch, kind: str, scope: dict[str, str]) -> list[str]:
    with monkeypatch.context() as m:
        m.setenv("KILNGIT_NO_GIT_INDEX", "1")
        return project.candidates(KINDS[kind], scope)


class Odd(Steps):
    """Steps that put files where a listing must tell record files from the rest."""

    def odd_names(self) -> None:
        self.n += 1
        n = self.n
        ann = f"tasks/{TASK}/annotations"
        for rater in ("a", "a-b", "a.b", "a b"):  # "a" sorts before "a-b" in the walk, after it as a path
            self._put(f"{ann}/{rater}/0{n % 3}/ab/{n:04x}.json")
        self._put(f"{ann}/a/00/ab/x{n}.json.bak")  # another suffix
        self._put(f"{ann}/a/00/x{n}.json")  # too shallow
        self._put(f"{ann}/a/00/ab/cd/x{n}.json")  # too deep
        self._put(f"{ann}/a/.hidden/ab/x{n}.json")
        self._put(f"tasks/{TASK}/evals/e/results/j/0{n % 2}/ab/r{n}.json")

    def _put(self, relpath: str) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")

    def records(self) -> None:
        self.n += 1
        project = Project(self.root)
        run = TaskRun(task=TASK, input=f"clip{self.n}", input_source=Source(type="human", created_by="a@b.c"))
        run = run.with_id()
        project.write_record(run)
        project.write_record(Annotation(task=TASK, run=run.id, rater="a-b@x.org", note=f"n{self.n}"))
        project.write_record(Annotation(task=TASK, run=run.id, rater="a@x.org", note=f"n{self.n}"))
        project.write_record(
            JudgeResult(task=TASK, eval="e", judge="j", judge_hash="h", run=run.id, scores={"s": 1.0})
        )


@pytest.mark.parametrize("seed", [3, 4])
def test_listings_from_git_equal_the_walk(
    project: Project, tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project.root
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    without_untracked_cache(root)
    rng = random.Random(seed)
    steps = Odd(root, rng, remote)
    steps.odd_names()
    steps.records()
    names = [n for n in [*vars(Steps), *vars(Odd)] if not n.startswith("_")]
    seen = 0
    for step in range(12):
        name = rng.choice(names)
        getattr(steps, name)()
        fresh = Project(root)
        for kind, scope in LISTINGS:
            listed = fresh.candidates(KINDS[kind], scope)
            assert listed == _walked(fresh, monkeypatch, kind, scope), (
                f"seed {seed} step {step} ({name}) {kind}"
            )
        loaded = (fresh.runs(TASK), fresh.annotations(TASK), fresh.judge_results(TASK, "e"))
        with monkeypatch.context() as m:
            m.setenv("KILNGIT_NO_GIT_INDEX", "1")
            walked = Project(root)
            assert loaded == (walked.runs(TASK), walked.annotations(TASK), walked.judge_results(TASK, "e"))
            assert fresh.problems == walked.problems
        seen += sum(map(len, loaded))
    assert seen, "the steps made records to load"


def test_outside_git_the_folders_are_walked(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    git(tmp_path, "clone", "-q", str(project.root), plain.name)
    Project(plain).write_record(
        TaskRun(task=TASK, input="x", input_source=Source(type="human", created_by="a@b.c"))
    )
    expected = Project(plain).candidates(KINDS["task_run"], {"task": TASK})
    (plain / ".git").rename(plain / "was-git")
    assert Project(plain).candidates(KINDS["task_run"], {"task": TASK}) == expected
    assert len(expected) == 1
