"""Importing small synthetic Kiln projects: the mapping, determinism, diverged projects, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.kiln import KilnImportError, import_kiln
from kilngit.project import Project
from kilngit.validate import validate_project
from tests.kiln.conftest import kilngit_cli, tree_hashes
from tests.kiln.kiln_factory import PROJECT_ID, TASK_ID, toy_project

TASK = "shell-helper"


@pytest.fixture
def toy(tmp_path):
    return toy_project(tmp_path / "kiln")


def _run_by_kiln(p: Project, kiln_id: str):
    return next(r for r in p.runs(TASK).values() if r.kiln_id == kiln_id)


def test_toy_import_maps_every_kind(toy, tmp_path):
    report = import_kiln(toy.root, tmp_path / "proj")
    assert report.problems == [] and report.errors == []
    p = Project(tmp_path / "proj")
    assert p.manifest.kiln_id == PROJECT_ID and p.manifest.name == "Toy project"
    task = p.task(TASK)
    assert task.kiln_id == TASK_ID and task.instruction == "Answer with a single shell command."
    assert [(r.name, r.type, r.kiln_id) for r in task.requirements] == [
        ("safe", "pass_fail_critical", "300000000003"),
        ("works", "pass_fail", "named::Works"),
    ]
    assert task.requirement("works").instruction == "Is the answer works?"  # from the eval's score

    run = _run_by_kiln(p, "500000000001")
    assert (run.input, run.output, run.tags) == ("list files", "ls -la", ["golden", "train_me"])
    assert run.input_source.created_by == "alice" and run.output_source.model == "gpt_4o_mini"
    assert run.output_source.prompt == "simple_prompt_builder" and run.usage.total_tokens == 15
    [annotation] = [a for a in p.annotations(TASK) if a.run == run.id]
    assert annotation.rater == "bob" and annotation.rating.value == 4.0
    assert annotation.rated_at == "2025-01-02T03:04:05Z"  # Kiln's rating created_at, to the second
    assert {k: v.value for k, v in annotation.requirements.items()} == {"safe": 1.0, "works": 1.0}
    failed = _run_by_kiln(p, "500000000002")
    [annotation] = [a for a in p.annotations(TASK) if a.run == failed.id]
    assert annotation.rating is None and annotation.requirements["works"].value == 0.0

    assert p.prompts(TASK)["terse"].system == "Reply with the command only."
    assert p.run_configs(TASK)["fast-one"].prompt == "terse"
    frozen = p.prompts(TASK)[p.run_configs(TASK)["frozen-one"].prompt]
    assert frozen.system.startswith("Answer with a single") and frozen.kiln_id.startswith("task_run_config::")

    ev = p.evals(TASK)["works-check"]
    assert (ev.eval_set, ev.golden_set, ev.default_judge) == ("tag::test_set", "tag::golden", "judge-a")
    judge = p.judges(TASK, "works-check")["judge-a"]
    assert judge.model == "gpt_4_1" and "2. Decide whether it works." in judge.instructions
    results = p.judge_results(TASK, "works-check")
    assert len(results) == 4 and {r.scores["works"] for r in results} == {0.0, 1.0}
    generations = [r for r in p.runs(TASK).values() if r.parent]
    assert sorted(g.output for g in generations) == ["date +%F", "wc -l < a.txt"]
    for g in generations:
        assert g.output_source.run_config == "fast-one" and g.output_source.model == "gpt_4o"
        assert p.runs(TASK)[g.parent].input == g.input and g.usage.total_tokens == 10
        assert any(r.run == g.id for r in results)

    membership = p.split_membership(TASK, "small-split")
    assert membership.parts == {"train": [run.id], "val": [failed.id]}
    ft = p.finetunes(TASK)["tiny-tune"]
    assert (ft.provider, ft.split, ft.prompt, ft.params) == (
        "fireworks",
        "small-split",
        "tiny-tune-prompt",
        {"epochs": 2},
    )
    assert p.finetune_status(TASK, "tiny-tune").state == "succeeded"
    validation = validate_project(p.root)
    assert validation.problems == []


def test_import_twice_is_byte_identical_and_writes_nothing(toy, tmp_path):
    import_kiln(toy.root, tmp_path / "a")
    import_kiln(toy.root, tmp_path / "b")
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
    again = import_kiln(toy.root, tmp_path / "a")
    assert sum(again.written.values()) == 0 and again.kept == []


def test_diverged_project_gets_only_what_is_new(toy, tmp_path):
    root = tmp_path / "proj"
    import_kiln(toy.root, root)
    p = Project(root)
    annotation = next(a for a in p.annotations(TASK) if a.rater == "bob")
    edited_annotation = layout.annotation_file(TASK, "bob", annotation.run)
    p.write_record(annotation.model_copy(update={"note": "checked again"}))
    prompt_path = root / layout.prompt_file(TASK, "terse")
    prompt_path.write_text(
        prompt_path.read_text().replace("Reply with the command only.", "Only the command.")
    )
    native = add_run(p, TASK, "show free memory", "free -h", author="carol@example.com")
    before = tree_hashes(root)
    # Kiln gains a rated run and an eval run of it.
    rating = {
        "v": 1,
        "id": "400000000009",
        "path": None,
        "created_at": "2025-02-01T00:00:00",
        "created_by": "dan",
        "type": "pass_fail",
        "value": 1.0,
        "requirement_ratings": {},
        "model_type": "task_output_rating",
    }
    toy.run(
        "500000000009",
        "show the kernel version",
        "uname -r",
        tags=["golden"],
        rating=rating,
        created_at="2025-02-01T00:00:00",
    )
    config = next((toy.task_dir / "evals").glob("*/configs/*"))
    toy.eval_run(
        config,
        "820000000009",
        "500000000009",
        "show the kernel version",
        "uname -r",
        {"works": 1.0},
        created_at="2025-02-01T00:00:00",
    )

    report = import_kiln(toy.root, root)
    assert dict(report.written) == {"task_run": 1, "annotation": 1, "judge_result": 1}
    assert report.kept == [edited_annotation, layout.prompt_file(TASK, "terse")]
    after = tree_hashes(root)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing existing was touched
    assert len(set(after) - set(before)) == 3
    p = Project(root)
    assert native.id in p.runs(TASK) and p.prompts(TASK)["terse"].system == "Only the command."
    assert validate_project(root).errors == []


def test_import_into_an_existing_project_keeps_its_records(project, toy):
    (project.root / layout.prompt_file("ffmpeg", "x")).parent.mkdir(parents=True, exist_ok=True)
    report = import_kiln(toy.root, project)
    assert report.errors == []
    p = Project(project.root)
    assert set(p.tasks()) == {"ffmpeg", TASK} and p.manifest.name == "demo"
    assert p.manifest.kiln_id == PROJECT_ID
    assert validate_project(p.root).errors == []


def test_slug_taken_by_a_hand_made_definition_gets_a_suffix(project, toy):
    from kilngit.authoring import new_task

    new_task(project, TASK, "A different task with the same slug.")
    import_kiln(toy.root, project)
    p = Project(project.root)
    assert p.task(TASK).kiln_id is None and p.task(f"{TASK}-2").kiln_id == TASK_ID
    again = import_kiln(toy.root, project)  # and the suffix sticks on re-import
    assert sum(again.written.values()) == 0


def _break(toy):
    """A toy Kiln project with one of each problem the importer must survive. Returns their paths."""
    runs = toy.task_dir / "runs"
    (runs / "500000000004" / "task_run.kiln").unlink()  # missing file
    truncated = runs / "500000000003" / "task_run.kiln"
    truncated.write_text(truncated.read_text()[:120])
    unknown = next((toy.task_dir / "prompts").glob("*/prompt.kiln"))
    unknown.write_text(unknown.read_text().replace('"model_type": "prompt"', '"model_type": "prompt_v9"'))
    newer = next((toy.task_dir / "run_configs").glob("700000000002*/task_run_config.kiln"))
    newer.write_text(newer.read_text().replace('"v": 1', '"v": 2', 1))
    config = next((toy.task_dir / "evals").glob("*/configs/*"))
    dangling = toy.eval_run(config, "820000000099", "599999999999", "nothing", "nothing", {"works": 1.0})
    rel = lambda path: path.relative_to(toy.root).as_posix()  # noqa: E731
    return {
        "missing": rel(runs / "500000000004" / "task_run.kiln"),
        "truncated": rel(truncated),
        "unknown": rel(unknown),
        "newer": rel(newer),
        "dangling": rel(dangling / "eval_run.kiln"),
    }


def test_bad_input_is_reported_by_path_and_the_rest_imported(toy, tmp_path):
    paths = _break(toy)
    report = import_kiln(toy.root, tmp_path / "proj")
    by_path = {p.path: p.message for p in report.errors}
    assert "missing task_run.kiln" in by_path[paths["missing"]]
    assert "truncated JSON" in by_path[paths["truncated"]]
    assert "unknown model_type 'prompt_v9'" in by_path[paths["unknown"]]
    assert "newer Kiln" in by_path[paths["newer"]]
    assert "task run 599999999999, which does not exist" in by_path[paths["dangling"]]
    p = Project(tmp_path / "proj")
    assert {r.kiln_id for r in p.runs(TASK).values() if r.parent is None} == {"500000000001", "500000000002"}
    assert len(p.judge_results(TASK, "works-check")) == 2  # the golden ones; the others lost their runs
    assert "fast-one" in p.run_configs(TASK)  # its prompt became a placeholder
    assert validate_project(p.root).errors == []


def test_strict_imports_nothing(toy, tmp_path):
    _break(toy)
    with pytest.raises(KilnImportError) as e:
        import_kiln(toy.root, tmp_path / "proj", strict=True)
    assert len(e.value.report.errors) >= 5 and not (tmp_path / "proj").exists()
    result = kilngit_cli("import", "kiln", str(toy.root), "--into", str(tmp_path / "proj"), "--strict")
    assert result.returncode == 1 and "nothing imported (--strict)" in result.stderr
    assert not (tmp_path / "proj").exists()
    result = kilngit_cli(
        "import", "kiln", str(toy.root), "--into", str(tmp_path / "proj"), "--strict", "--format", "json"
    )
    assert result.returncode == 1 and json.loads(result.stdout)["aborted"] is True


def test_cli_import_reports_and_reimports(toy, tmp_path):
    result = kilngit_cli("import", "kiln", str(toy.root), "--into", str(tmp_path / "proj"))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 annotation" in result.stdout and "6 task_run" in result.stdout
    result = kilngit_cli("-C", str(tmp_path / "proj"), "import", "kiln", str(toy.root), "--format", "json")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["written"] == {} and data["unchanged"]["task_run"] == 6


def test_not_a_kiln_project(tmp_path):
    result = kilngit_cli("import", "kiln", str(tmp_path), "--into", str(tmp_path / "proj"))
    assert result.returncode == 1 and "not a Kiln project" in result.stderr


def test_unsupported_kiln_values_are_reported(toy, tmp_path):
    task = toy.task_dir / "task.kiln"
    data = json.loads(task.read_text())
    data["requirements"].append(
        {"id": "300000000004", "name": "Tone", "instruction": "Polite.", "priority": 2, "type": "custom"}
    )
    task.write_text(json.dumps(data))
    config = next((toy.task_dir / "evals").glob("*/configs/*/eval_config.kiln"))
    cfg = json.loads(config.read_text())
    config.write_text(
        json.dumps(
            {
                **cfg,
                "config_type": "v2",
                "model_name": None,
                "model_provider": None,
                "properties": {"type": "code_eval"},
            }
        )
    )
    old_format = {
        "v": 1,
        "id": "400000000008",
        "created_by": "eve",
        "type": "five_star",
        "value": 5.0,
        "requirement_ratings": {"300000000003": 3.0},
        "model_type": "task_output_rating",
    }
    toy.run(
        "500000000008",
        "tar the logs",
        "tar czf logs.tgz logs",
        rating=old_format,
        trace=[{"role": "user", "content": "tar the logs"}],
    )
    report = import_kiln(toy.root, tmp_path / "proj")
    messages = [p.message for p in report.problems]
    assert any("custom rating" in m for m in messages)
    assert any("'code_eval' has no kilngit equivalent" in m for m in messages)
    assert any("multi-turn trace" in m for m in messages)
    assert any(
        "rating '300000000003' is five_star but requirement 'safe' is pass_fail_critical" in m
        for m in messages
    )
    p = Project(tmp_path / "proj")
    assert p.evals(TASK)["works-check"].default_judge is None and p.judge_results(TASK, "works-check") == []
    [eve] = [a for a in p.annotations(TASK) if a.rater == "eve"]
    assert eve.rating.value == 5.0 and eve.requirements == {}
    assert validate_project(p.root).errors == []


def test_source_folder_renames_do_not_matter(toy, tmp_path):
    import_kiln(toy.root, tmp_path / "a")
    for folder in sorted((toy.task_dir / "run_configs").iterdir()):
        shutil.move(folder, folder.with_name(folder.name.split(" ")[0] + " - Renamed"))
    import_kiln(toy.root, tmp_path / "b")
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
