"""Loaded records share equal parts (kilngit.records.sharing): same fields, bytes and IDs as records read on
their own, less memory, and assignments that cannot leak from one record into another."""

from __future__ import annotations

import copy
import pickle

import pytest

from kilngit import layout
from kilngit.kinds import KINDS
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, Rating, Source, TaskRun, Usage
from kilngit.records.sharing import MAX_VALUES, FrozenDict, FrozenList, SharedFields, Sharing

HUMAN = Source(type="human", created_by="alice@example.com")


def _runs() -> list[TaskRun]:
    synthetic = {"type": "synthetic", "provider": "openai", "model": "gpt-4o-mini", "run_config": "mini"}
    usages = [
        Usage(input_tokens=1, cost=1.0),
        Usage(input_tokens=1, cost=0.0),
        Usage(input_tokens=1, cost=-0.0),  # equal to 0.0, but its own bytes
        Usage(input_tokens=1, cost=0.0),
        None,
    ]
    runs = []
    for i, usage in enumerate(usages * 2):
        source = dict(synthetic, topic=["a", "b"]) if i % 4 == 3 else synthetic
        runs.append(
            TaskRun(
                task="ffmpeg",
                input=f"convert clip{i}.mov",
                input_source=HUMAN,
                output=f"ffmpeg -i clip{i}.mov out{i}.mp4",
                output_source=Source(**source),
                usage=usage,
                tags=["eval_set"] if i % 2 else [],
            )
        )
    return runs


@pytest.fixture
def loaded(project: Project) -> Project:
    ids = sorted(project.write_record(r).stem for r in _runs())
    for i, rid in enumerate(ids):
        rater = ("alice@example.com", "bob@example.com")[i % 2]
        requirements = {"correct_command": Rating(type="pass_fail", value=float(i % 2))} if i % 3 else {}
        project.write_record(
            Annotation(
                task="ffmpeg",
                run=rid,
                rater=rater,
                rating=Rating(type="five_star", value=float(1 + i % 5)),
                requirements=requirements,
            )
        )
    return Project(project.root)


def _on_their_own(project: Project, kind: str, **scope: str) -> dict[str, object]:
    """Every record of the listing read from its file alone (no Project, no sharing): path -> record."""
    model = {"task_run": TaskRun, "annotation": Annotation, "judge_result": JudgeResult}[kind]
    out = {}
    for relpath in project.candidates(KINDS[kind], scope):
        out[relpath] = model.model_validate_json((project.root / relpath).read_bytes())
    return out


@pytest.mark.parametrize("cache", [True, False])
def test_loaded_records_equal_records_read_alone(loaded: Project, cache: bool, monkeypatch):
    if not cache:
        monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    for _ in range(2):  # the second load finds the cache the first one filled
        project = Project(loaded.root)
        runs = project.runs("ffmpeg")
        anns = project.annotations("ffmpeg")
        alone_runs = _on_their_own(project, "task_run", task="ffmpeg")
        alone_anns = _on_their_own(project, "annotation", task="ffmpeg")
        assert list(runs.values()) == list(alone_runs.values())
        assert anns == list(alone_anns.values())
        for relpath, record in [
            *zip(alone_runs, runs.values(), strict=True),
            *zip(alone_anns, anns, strict=True),
        ]:
            assert record.to_bytes() == (project.root / relpath).read_bytes()
            assert record.model_fields_set == _on_their_own_fields(project, relpath)
        for rid, run in runs.items():
            assert run.expected_id() == rid == run.id
            assert rid is run.id  # the listing's key is the record's own string
        for (_, run_id), a in project.records("annotation", task="ffmpeg").items():
            assert run_id is a.run
        assert project.runs("ffmpeg") is runs  # each listing read once, then kept
        assert project.records("annotation", task="ffmpeg") is project.records("annotation", task="ffmpeg")
        states = project.states("ffmpeg")
        assert [s.run for s in states.values()] == [runs[k] for k in sorted(runs)]


def _on_their_own_fields(project: Project, relpath: str) -> set[str]:
    kind = layout.classify(relpath).kind
    model = TaskRun if kind == "task_run" else Annotation
    return model.model_validate_json((project.root / relpath).read_bytes()).model_fields_set


def test_equal_parts_are_shared_and_unequal_ones_kept_apart(loaded: Project):
    runs = list(loaded.runs("ffmpeg").values())
    assert len({id(r.input_source) for r in runs}) == 1
    assert len({id(r.__pydantic_fields_set__) for r in runs if r.usage is not None}) == 1
    assert isinstance(runs[0].__pydantic_fields_set__, SharedFields)
    # 0.0 and -0.0 are equal in Python but not in the files: never one shared value
    costs = {str(r.usage.cost) for r in runs if r.usage is not None}
    assert costs == {"1.0", "0.0", "-0.0"}
    by_cost = {}
    for r in runs:
        if r.usage is not None:
            by_cost.setdefault(str(r.usage.cost), set()).add(id(r.usage))
    assert all(len(ids) == 1 for ids in by_cost.values())
    assert len({i for ids in by_cost.values() for i in ids}) == 3
    anns = loaded.annotations("ffmpeg")
    assert len({id(a.rating) for a in anns}) <= 5
    reqs = [a.requirements["correct_command"] for a in anns if a.requirements]
    assert len({id(r) for r in reqs}) == 2


def test_assigning_a_field_of_a_loaded_record_touches_that_record_only(loaded: Project):
    first, second = list(loaded.runs("ffmpeg").values())[:2]
    fields_before = set(second.model_fields_set)
    first.kiln_id = "k1"
    assert first.kiln_id == "k1" and "kiln_id" in first.model_fields_set
    assert second.kiln_id is None and second.model_fields_set == fields_before
    copied = second.model_copy(update={"parent": "0" * 16})
    assert "parent" in copied.model_fields_set and "parent" not in second.model_fields_set
    assert copy.deepcopy(second) == second and pickle.loads(pickle.dumps(second)) == second
    with pytest.raises(TypeError, match="shared by every loaded record"):
        second.input_source.created_by = "mallory@example.com"
    assert all(r.input_source.created_by == "alice@example.com" for r in loaded.runs("ffmpeg").values())
    second.input_source = second.input_source.model_copy(update={"created_by": "carol@example.com"})
    assert first.input_source.created_by == "alice@example.com"
    second.input_source.created_by = "dave@example.com"  # a value of its own again: assignable


def test_values_that_never_repeat_are_not_remembered():
    sharing = Sharing()
    values = [Usage(input_tokens=i) for i in range(MAX_VALUES + 10)]
    assert [sharing.value(v) for v in values] == values
    assert len(sharing._values[Usage]) == MAX_VALUES
    assert sharing.value(Usage(input_tokens=0)) is values[0]
    late = Usage(input_tokens=MAX_VALUES + 5)
    assert sharing.value(late) is late
    late.cost = 1.0  # not shared, so still a value of its own


def test_equal_lists_and_dicts_are_shared_and_read_only(loaded: Project):
    runs = list(loaded.runs("ffmpeg").values())
    tagged = [r for r in runs if r.tags]
    assert len({id(r.tags) for r in tagged}) == 1 and len({id(r.tags) for r in runs if not r.tags}) == 1
    anns = loaded.annotations("ffmpeg")
    assert len({id(a.tags_added) for a in anns} | {id(a.tags_removed) for a in anns}) == 1
    assert len({id(a.requirements) for a in anns if a.requirements}) == 2  # pass and fail
    run, other = tagged[0], tagged[1]
    assert isinstance(run.tags, list) and run.tags == ["eval_set"] and isinstance(run.tags, FrozenList)
    for change in (
        lambda: run.tags.append("x"),
        lambda: run.tags.extend(["x"]),
        lambda: run.tags.__setitem__(0, "x"),
        lambda: run.tags.__iadd__(["x"]),
        lambda: run.tags.sort(),
        lambda: anns[0].requirements.__setitem__("x", None),
        lambda: anns[0].requirements.update({}),
        lambda: anns[0].requirements.pop("x", None),
    ):
        with pytest.raises(TypeError, match="shared by every loaded record"):
            change()
    assert other.tags == ["eval_set"]
    # copies are plain, changeable lists and dicts
    for copied in (
        copy.copy(run.tags),
        copy.deepcopy(run.tags),
        run.tags.copy(),
        pickle.loads(pickle.dumps(run.tags)),
    ):
        assert type(copied) is list and copied == ["eval_set"]
    for record in (copy.deepcopy(run), pickle.loads(pickle.dumps(run))):
        assert record == run and type(record.tags) is list
        record.tags.append("x")
    assert type(copy.deepcopy(anns[0].requirements)) is dict
    run.tags = [*run.tags, "late"]  # assigning a new list touches this run only
    assert other.tags == ["eval_set"] and run.tags == ["eval_set", "late"]


def test_plain_values_of_other_types_or_signs_are_never_one_shared_container():
    sharing = Sharing()
    results = [
        JudgeResult(task="t", eval="e", judge="j", judge_hash="h", run="r", scores={"a": score})
        for score in (0.0, -0.0, 1.0, 1.0, 0.0)
    ]
    for r in results:
        sharing.record(r)
    assert [str(r.scores["a"]) for r in results] == ["0.0", "-0.0", "1.0", "1.0", "0.0"]
    assert results[2].scores is results[3].scores and results[0].scores is results[4].scores
    assert results[0].scores is not results[1].scores
    assert isinstance(results[0].scores, FrozenDict) and results[0].labels is results[1].labels == {}


def test_states_of_unannotated_runs_share_one_read_only_list(loaded: Project):
    runs = loaded.runs("ffmpeg")
    extra = TaskRun(task="ffmpeg", input="never rated", input_source=HUMAN)
    loaded.write_record(extra)
    states = loaded.states("ffmpeg")
    bare = [s for s in states.values() if not s.annotations]
    assert bare and len({id(s.annotations) for s in bare}) == 1
    with pytest.raises(TypeError):
        bare[0].annotations.append(loaded.annotations("ffmpeg")[0])
    annotated = [s for s in states.values() if s.annotations]
    assert (
        len({id(s.annotations) for s in annotated}) == len(annotated) == len(runs) - 1
    )  # lists of their own
    # a label written later gives that run a list of its own
    loaded.write_record(Annotation(task="ffmpeg", run=bare[0].id, rater="carol@example.com", note="seen"))
    assert [a.rater for a in loaded.states("ffmpeg")[bare[0].id].annotations] == ["carol@example.com"]
    assert all(not s.annotations for s in bare[1:])
