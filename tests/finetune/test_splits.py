"""Dataset splits: deterministic, frozen membership; eval items held out; extend and force."""

from __future__ import annotations

import pytest

from kilngit import layout
from kilngit.errors import KilngitError, UsageError
from kilngit.finetune.splits import (
    assign,
    materialize_split,
    new_split,
    parse_parts,
    part_runs,
    show_split,
)
from kilngit.project import Project
from kilngit.records import SplitPart
from kilngit.validate import validate_project
from tests.finetune.helpers import TASK, add_eval, add_runs

PARTS = parse_parts(["train=0.8", "test=0.2"])


def test_assign_is_deterministic_exact_and_seeded():
    ids = [f"{i:016x}" for i in range(101)]
    parts = parse_parts(["a=0.5,b=0.3,c=0.2"])
    one = assign(ids, parts, seed=7)
    assert {k: len(v) for k, v in one.items()} == {"a": 51, "b": 30, "c": 20}
    assert sorted(r for v in one.values() for r in v) == ids
    assert assign(list(reversed(ids)), parts, seed=7) == one
    assert assign(ids, parts, seed=8) != one


def test_parse_parts_errors():
    assert parse_parts(["train=0.9, test=0.1"]) == [
        SplitPart(name="train", fraction=0.9),
        SplitPart(name="test", fraction=0.1),
    ]
    with pytest.raises(UsageError):
        parse_parts(["train"])
    with pytest.raises(UsageError):
        parse_parts(["Train=x"])


def test_materialize_freezes_and_excludes_eval_items(project: Project):
    train_ids = add_runs(project, 10)
    eval_ids = add_runs(project, 3, tag="eval_set", prefix="eval")
    add_eval(project)
    new_split(project, TASK, "main", PARTS)
    first = materialize_split(project, TASK, "main")
    assert first.created and first.counts == {"train": 8, "test": 2} and first.excluded == 3
    members = {r for v in first.membership.parts.values() for r in v}
    assert members == set(train_ids) and not members & set(eval_ids)
    path = project.root / layout.split_membership_file(TASK, "main")
    before = path.read_bytes()

    more = add_runs(project, 5, prefix="later")
    again = materialize_split(Project(project.root), TASK, "main")
    assert not again.created and again.waiting == 5 and path.read_bytes() == before  # frozen

    extended = materialize_split(Project(project.root), TASK, "main", extend_new=True)
    assert extended.created and extended.added == 5 and sum(extended.counts.values()) == 15
    for part, ids in first.membership.parts.items():  # nothing moved
        assert set(ids) <= set(extended.membership.parts[part])
    assert set(more) <= {r for v in extended.membership.parts.values() for r in v}
    assert validate_project(project.root).ok
    assert [s.id for s in project.select(TASK, "split::main/test")] == sorted(
        extended.membership.parts["test"]
    )


def test_allow_eval_items_and_changed_definition(project: Project):
    add_runs(project, 4)
    add_runs(project, 2, tag="eval_set", prefix="eval")
    add_eval(project)
    new_split(project, TASK, "all-in", parse_parts(["train=1"]), allow_eval_items=True)
    assert materialize_split(project, TASK, "all-in").counts == {"train": 6}

    new_split(project, TASK, "s", PARTS, seed=1)
    materialize_split(project, TASK, "s")
    text = (project.root / layout.split_file(TASK, "s")).read_text().replace("seed: 1", "seed: 2")
    (project.root / layout.split_file(TASK, "s")).write_text(text)
    fresh = Project(project.root)
    assert show_split(fresh, TASK, "s").stale
    with pytest.raises(KilngitError, match="changed since"):
        materialize_split(fresh, TASK, "s")
    assert materialize_split(fresh, TASK, "s", force=True).created


def test_new_split_refuses_bad_input(project: Project):
    with pytest.raises(UsageError):
        new_split(project, TASK, "Bad Name", PARTS)
    with pytest.raises(UsageError, match="add up to 1"):
        new_split(project, TASK, "x", parse_parts(["train=0.5"]))
    with pytest.raises(UsageError):
        new_split(project, TASK, "y", PARTS, filter="bogus_term")
    new_split(project, TASK, "z", PARTS)
    with pytest.raises(KilngitError, match="already exists"):
        new_split(project, TASK, "z", PARTS)


def test_part_runs_materializes_on_first_use(project: Project):
    ids = add_runs(project, 5)
    new_split(project, TASK, "s", parse_parts(["train=0.6,test=0.4"]))
    assert len(part_runs(project, TASK, "s", "train")) == 3
    assert set(part_runs(project, TASK, "s", "test")) < set(ids)
