"""Exporting to Kiln: layout, determinism, round trips, and loading the result with kiln-ai (in a subprocess
with a python that has it; skipped otherwise)."""

from __future__ import annotations

import json

import pytest

from kilngit.authoring import add_run
from kilngit.errors import KilngitError
from kilngit.kiln import import_kiln
from kilngit.kiln.export import export_kiln
from kilngit.project import Project
from kilngit.records import (
    Annotation,
    DatasetSplit,
    Eval,
    EvalScore,
    FineTune,
    FineTuneStatus,
    Judge,
    JudgeResult,
    Rating,
    SplitMembership,
    SplitPart,
)
from kilngit.records.canonical import content_id
from kilngit.records.evals import judge_hash
from tests.conftest import git
from tests.kiln.conftest import kilngit_cli, load_with_kiln, tree_hashes
from tests.kiln.kiln_factory import toy_project


@pytest.fixture
def toy_import(tmp_path):
    toy = toy_project(tmp_path / "kiln")
    import_kiln(toy.root, tmp_path / "proj")
    git(tmp_path / "proj", "add", "-A")
    git(tmp_path / "proj", "commit", "-qm", "import")
    return Project(tmp_path / "proj")


def test_export_writes_kiln_layout_with_kiln_ids(toy_import, tmp_path):
    report = export_kiln(toy_import, tmp_path / "out")
    assert report.problems == []
    assert dict(report.written) == {
        "project": 1,
        "task": 1,
        "task_run": 4,
        "prompt": 1,
        "task_run_config": 2,
        "eval": 1,
        "eval_config": 1,
        "eval_run": 4,
        "dataset_split": 1,
        "finetune": 1,
    }
    task_dir = tmp_path / "out/tasks/200000000002 - Shell helper"
    run = json.loads((task_dir / "runs/500000000001/task_run.kiln").read_text())
    assert run["output"]["rating"]["requirement_ratings"] == {
        "300000000003": {"value": 1.0, "type": "pass_fail_critical"},
        "named::Works": {"value": 1.0, "type": "pass_fail"},
    }
    assert run["output"]["rating"]["id"] == "400000000001" and run["output"]["rating"]["created_by"] == "bob"
    generation = json.loads(
        next(task_dir.glob("evals/*/configs/*/runs/820000000003/eval_run.kiln")).read_text()
    )
    assert (generation["dataset_id"], generation["task_run_config_id"], generation["eval_config_eval"]) == (
        "500000000003",
        "700000000001",
        False,
    )
    assert generation["output"] == "wc -l < a.txt" and generation["scores"] == {"works": 1.0}
    frozen = json.loads(next(task_dir.glob("run_configs/700000000002*/task_run_config.kiln")).read_text())
    assert frozen["run_config_properties"]["prompt_id"].startswith("task_run_config::")
    assert frozen["prompt"]["prompt"].startswith("Answer with a single")
    raw = (task_dir / "task.kiln").read_bytes()
    assert raw.startswith(b'{\n  "v": 1,\n  "id": "200000000002"') and not raw.endswith(b"\n")


def test_export_is_deterministic_and_needs_an_empty_folder(toy_import, tmp_path):
    export_kiln(toy_import, tmp_path / "a")
    export_kiln(toy_import, tmp_path / "b")
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
    with pytest.raises(KilngitError, match="not empty"):
        export_kiln(toy_import, tmp_path / "a")


def test_round_trip_gives_the_same_records(toy_import, tmp_path):
    export_kiln(toy_import, tmp_path / "out")
    import_kiln(tmp_path / "out", tmp_path / "again")
    first = {k: v for k, v in tree_hashes(toy_import.root).items() if k.startswith("tasks/")}
    second = {k: v for k, v in tree_hashes(tmp_path / "again").items() if k.startswith("tasks/")}
    assert second == first


def test_exported_toy_loads_in_kiln(toy_import, tmp_path, kiln_python):
    result = kilngit_cli(
        "-C", str(toy_import.root), "export", "kiln", str(tmp_path / "out"), "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    [task] = load_with_kiln(kiln_python, tmp_path / "out")["tasks"]
    assert {
        k: task[k]
        for k in (
            "runs",
            "rated",
            "requirements",
            "prompts",
            "run_configs",
            "dataset_splits",
            "finetunes",
            "eval_runs",
        )
    } == {
        "runs": 4,
        "rated": 2,
        "requirements": 1,
        "prompts": 1,
        "run_configs": 2,
        "dataset_splits": 1,
        "finetunes": 1,
        "eval_runs": 4,
    }
    [ev] = task["evals"]
    assert (ev["configs"], ev["generations"], ev["current_config_id"], ev["scores"]) == (
        1,
        2,
        "810000000001",
        ["Works"],
    )


def _native_project(project: Project) -> Project:
    """The conftest project with runs, two raters who disagree, a repair, an eval with an LLM judge and a
    code judge, a split and a fine-tune: everything written by kilngit, nothing from Kiln."""
    runs = [
        add_run(
            project,
            "ffmpeg",
            f"convert clip{i}.mov to mp4",
            f"ffmpeg -i clip{i}.mov clip{i}.mp4",
            tags=["eval"] + (["golden"] if i < 2 else []),
            author="ann@example.com",
        )
        for i in range(4)
    ]
    add_run(project, "ffmpeg", "an input waiting for an answer", author="ann@example.com")
    for rater, values in (("ann@example.com", (1.0, 1.0)), ("ben@example.com", (1.0, 0.0))):
        for run, value in zip(runs[:2], values, strict=True):
            project.write_record(
                Annotation(
                    task="ffmpeg",
                    run=run.id,
                    rater=rater,
                    rating=Rating(type="five_star", value=4 if value else 2),
                    requirements={"correct_command": Rating(type="pass_fail", value=value)},
                )
            )
    project.write_record(
        Annotation(
            task="ffmpeg",
            run=runs[3].id,
            rater="cy@example.com",
            note="use -c copy",
            repaired_output="ffmpeg -i clip3.mov -c copy clip3.mp4",
            tags_added=["fixed up"],
        )
    )
    ev = Eval(
        name="Correct commands",
        scores=[EvalScore(name="correct_command", instruction="Works as asked.")],
        eval_set="tag::eval & !tag::golden",
        golden_set="rated",
        default_judge="gpt",
    )
    project.write_definition("tasks/ffmpeg/evals/correct/eval.yaml", ev)
    judges = {
        "gpt": Judge(type="llm_as_judge", provider="openai", model="gpt-4o-mini", instructions="Be strict."),
        "runs-it": Judge(type="code", function="judges:run_it"),
    }
    for slug, judge in judges.items():
        project.write_definition(f"tasks/ffmpeg/evals/correct/judges/{slug}.yaml", judge)
        for run in runs:
            project.write_record(
                JudgeResult(
                    task="ffmpeg",
                    eval="correct",
                    judge=slug,
                    run=run.id,
                    judge_hash=judge_hash(judge, ev),
                    scores={"correct_command": 1.0},
                    reasoning="Looks right.",
                )
            )
    split = DatasetSplit(parts=[SplitPart(name="train", fraction=0.5), SplitPart(name="test", fraction=0.5)])
    project.write_definition("tasks/ffmpeg/splits/half.yaml", split)
    project.write_record(
        SplitMembership(
            task="ffmpeg",
            split="half",
            definition_hash=content_id(split.to_data()),
            parts={"train": sorted(r.id for r in runs[:2]), "test": sorted(r.id for r in runs[2:])},
        )
    )
    project.write_definition(
        "tasks/ffmpeg/finetunes/mini/finetune.yaml",
        FineTune(
            provider="openai",
            base_model="gpt-4o-mini-2024-07-18",
            split="half",
            validation_part="test",
            prompt="default",
        ),
    )
    project.write_record(
        FineTuneStatus(
            task="ffmpeg",
            finetune="mini",
            state="succeeded",
            provider_job_id="ftjob-1",
            fine_tuned_model="ft:gpt-4o-mini:me::abc",
        )
    )
    return Project(project.root)


def test_export_of_a_kilngit_made_project(project, tmp_path, kiln_python):
    native = _native_project(project)
    report = export_kiln(native, tmp_path / "out")
    messages = sorted(p.message for p in report.problems)
    assert any("input-only or failed run" in m for m in messages)
    assert any("Kiln has no equivalent for this kind of judge" in m for m in messages)
    assert report.written["eval_run"] == 4 and report.written["task_run"] == 4
    [task] = load_with_kiln(kiln_python, tmp_path / "out")["tasks"]
    # run 0: both raters agree; run 1: they disagree on correct_command (left out), stars 4 and 2 -> 3.
    assert task["rated"] == 2 and task["requirement_ratings"] == 1 and task["repaired"] == 1
    assert {"kilngit_eval_set_correct", "kilngit_golden_correct", "fixed_up"} <= set(task["tags"])
    # correct_command is also an eval score, so Kiln holds it as `named::Correct Command`, not a requirement.
    assert task["requirements"] == 1 and task["prompts"] == 1 and task["finetunes"] == 1
    [ev] = task["evals"]
    assert ev["configs"] == 1 and ev["eval_runs"] == 4 and ev["scores"] == ["Correct Command"]


def test_demo_round_trip_loads_in_kiln(demo_import, bulk_tmp, kiln_python):
    root, _ = demo_import
    report = export_kiln(Project(root), bulk_tmp / "export")
    assert report.problems == []
    loaded = load_with_kiln(kiln_python, bulk_tmp / "export")
    [task] = loaded["tasks"]
    assert (task["runs"], task["eval_runs"], len(task["evals"]), task["run_configs"], task["finetunes"]) == (
        1352,
        5122,
        6,
        31,
        13,
    )
    assert sum(e["configs"] for e in task["evals"]) == 11 and task["rated"] == 34 and task["prompts"] == 4
    assert sum(e["generations"] for e in task["evals"]) == 4782 and task["dataset_splits"] == 2
