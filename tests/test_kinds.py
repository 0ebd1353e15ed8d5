"""The kinds table: adding a kind is one `Kind(...)` entry plus its model, and layout, load, validate,
Project and schema all pick it up (the recipe in docs/architecture.md)."""

from typing import Literal

import pytest

from kilngit import kinds, layout
from kilngit.kinds import Kind, Ref
from kilngit.records import OwnedRecord
from kilngit.schema import json_schemas
from kilngit.validate import validate_project


class Bookmark(OwnedRecord):
    """A toy kind: one person's bookmark on a run."""

    kind: Literal["bookmark"] = "bookmark"
    task: str
    run: str
    note: str = ""


@pytest.fixture
def bookmark_kind():
    kinds.register(
        Kind(
            "bookmark",
            Bookmark,
            "tasks/{task}/bookmarks/{run}.json",
            {"task": "task", "run": "run"},
            refs=(Ref("/run", "task_run", "run"),),
        )
    )
    yield
    kinds.unregister("bookmark")


def test_a_toy_kind_is_laid_out_loaded_validated_listed_and_has_a_schema(project, bookmark_kind):
    run_id = "0123456789abcdef"
    path = project.write_record(Bookmark(task="ffmpeg", run=run_id, note="look"))
    assert path == project.root / f"tasks/ffmpeg/bookmarks/{run_id}.json"
    assert layout.classify(f"tasks/ffmpeg/bookmarks/{run_id}.json").kind == "bookmark"
    assert project.records("bookmark", task="ffmpeg")[run_id].note == "look"

    problems = validate_project(project.root).problems
    assert [(p.message, p.pointer) for p in problems] == [(f"run {run_id} does not exist", "/run")]

    path.rename(path.with_name("fedcba9876543210.json"))
    messages = [p.message for p in validate_project(project.root).problems]
    assert "bookmark is not at the path of its (run)" in messages
    assert "bookmark" in json_schemas()


def test_a_kind_whose_model_disagrees_is_refused():
    with pytest.raises(ValueError, match="model says kind 'bookmark'"):
        Kind("bookmarks", Bookmark, "tasks/{task}/b/{run}.json")


def test_every_kind_has_a_path_that_classifies_back():
    for kind in kinds.KINDS.values():
        parts = {
            p: ("0123456789abcdef" if p in ("id", "run") else "7" if p in ("round", "first_step") else "x")
            for p in kind.parts
        }
        located = layout.classify(kind.fill(parts))
        assert located is not None and located.kind == kind.name
