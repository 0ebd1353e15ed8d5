"""Helpers for the review tests: runs with outputs, made by hand in the `project` fixture."""

from __future__ import annotations

import pytest

from kilngit.authoring import add_run
from kilngit.project import Project
from kilngit.records import Source, TaskRun
from tests.conftest import git


def make_run(
    project: Project,
    text: str,
    output: str | None = "ffmpeg -i in.mov out.mp4",
    tags: list[str] | None = None,
) -> TaskRun:
    """A hand-made run of task ffmpeg."""
    return add_run(project, "ffmpeg", text, output, tags, author="maker@example.com")


@pytest.fixture
def runs(project: Project) -> list[TaskRun]:
    """Three runs with outputs, in ID order."""
    return sorted((make_run(project, f"convert clip{i}.mov to mp4") for i in range(3)), key=lambda r: r.id)


def commit(project: Project, message: str = "change") -> str:
    """Commit everything in the project's repository; returns the new commit's hash."""
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", message)
    return git(project.root, "rev-parse", "HEAD")


def colliding_runs(task: str, width: int = 4, other_task: str | None = None) -> tuple[TaskRun, TaskRun]:
    """Two runs (the second of `other_task`, if given) whose IDs share their first `width` characters."""
    seen: dict[str, TaskRun] = {}
    source = Source(type="human", created_by="maker@example.com")
    for i in range(100_000):
        slug = other_task if other_task and i % 2 else task
        run = TaskRun(task=slug, input=f"collide {i}", input_source=source, output="o", output_source=source)
        run = run.with_id()
        first = seen.get(run.id[:width])
        if first is not None and first.task != run.task if other_task else first is not None:
            return first, run  # type: ignore[return-value]
        seen.setdefault(run.id[:width], run)  # type: ignore[arg-type]
    raise AssertionError("no collision found")
