"""The kinds table: adding a kind is one `Kind(...)` entry plus its model, and layout, load, validate,
Project and schema all pick it up (the recipe in docs/architecture.md)."""

import importlib
import random
import subprocess
import sys
from typing import Literal

import pytest

from kilngit import kinds, layout, records
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


def test_builtin_kinds_name_their_models_and_import_them_on_first_use():
    for kind in kinds.BUILTIN.values():
        model = kind.model
        assert isinstance(kind.source, str) and model.model_fields["kind"].default == kind.name
        assert kind.model_name == f"{model.__module__}.{model.__qualname__}"  # the cache's kinds table text
    child = (
        "import sys\n"
        "from kilngit import kinds, layout, project, state\n"
        "lazy = ('dataset', 'finetune', 'queue')\n"
        "print(sorted(m for m in lazy if 'kilngit.records.' + m in sys.modules))\n"
        "from kilngit.records import FineTune\n"
        "print(kinds.KINDS['finetune'].model is FineTune, 'kilngit.records.finetune' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "True True"]


def test_a_kind_named_by_module_is_checked_when_its_model_is_first_used():
    kind = Kind("bookmarks", f"{__name__}:Bookmark", "tasks/{task}/b/{run}.json")
    assert kind.model_name == f"{__name__}.Bookmark"
    with pytest.raises(ValueError, match="model says kind 'bookmark'"):
        kind.model  # noqa: B018


def test_records_exports_each_name_of_its_modules():
    names = set(records.__all__)
    assert names == set(records._HOME) and names <= set(dir(records))
    for name in records.__all__:
        module = importlib.import_module(f"kilngit.records.{records._HOME[name]}")
        assert getattr(records, name) is getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        records.Nothing  # noqa: B018


def test_generated_fill_is_the_loop_over_template_pieces():
    # `Kind.fill` runs one generated f-string per template; text it cannot write as it is takes the loop.
    rng = random.Random(7)
    templates = [t for kind in kinds.KINDS.values() for t in (kind.path, *kind.older.values())]
    templates += ['a"b/{x}', "{x}{y[1:3]}\\n", "{x}'{{y}}'", "tasks/{x[:2]}/{x}.json"]
    for template in templates:
        for _ in range(20):
            params = {p: "".join(rng.choice("ab0'\"{}\\/") for _ in range(rng.randrange(6))) for p in "xy"}
            params |= {m.group(1): params["x"] for m in kinds._PLACEHOLDER.finditer(template)}
            assert kinds._filler(template)(params) == kinds._fill_pieces(kinds._pieces(template), params), (
                template
            )
    kind = kinds.KINDS["task_run"]
    assert kind.fill({"task": "t", "id": "0123456789abcdef"}) == "tasks/t/runs/01/23/0123456789abcdef.json"
    assert kind.fill({"task": "t", "id": "0123456789abcdef"}, 1) == "tasks/t/runs/01/0123456789abcdef.json"


def test_needle_is_in_every_path_of_its_kind():
    for kind in kinds.KINDS.values():
        assert kind.needle and kind.needle in kind.path
