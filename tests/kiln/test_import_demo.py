"""Importing the real Kiln demo project (../shared/kiln_demo; skipped when absent): counts, validation,
ratings, tags, records field by field against the source JSON, and byte-identical re-imports."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from kilngit.kiln import import_kiln
from kilngit.kiln.mapping import FINETUNE_BACKENDS
from kilngit.kiln.names import json_key
from kilngit.project import Project
from kilngit.records.evals import judge_hash
from kilngit.validate import validate_project
from tests.kiln.conftest import tree_hashes

TASK = "natural-language-ffmpeg"


def _kiln(src: Path, pattern: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(src.glob(pattern))]


def test_demo_imports_without_problems_and_validates(demo_import):
    root, report = demo_import
    assert report.problems == [] or all(p.severity == "warning" for p in report.problems)
    assert report.files_read == 6543 and not report.kept
    validation = validate_project(root)
    assert validation.errors == [], validation.errors[:5]


def test_demo_counts(demo_import):
    root, _ = demo_import
    p = Project(root)
    assert list(p.tasks()) == [TASK]
    runs = p.runs(TASK)
    kiln_runs = [r for r in runs.values() if r.parent is None]
    generations = [r for r in runs.values() if r.parent is not None]
    assert len(kiln_runs) == 1352 and len(generations) == 4782
    evals = p.evals(TASK)
    assert len(evals) == 6
    assert sum(len(p.judges(TASK, e)) for e in evals) == 11
    assert sum(len(p.judge_results(TASK, e)) for e in evals) == 5122
    assert len(p.run_configs(TASK)) == 31 and len(p.finetunes(TASK)) == 13 and len(p.splits(TASK)) == 2
    assert sum(1 for ft in p.finetunes(TASK) if p.finetune_status(TASK, ft).state == "succeeded") == 13
    sizes = sorted(
        tuple(sorted(len(v) for v in p.split_membership(TASK, s).parts.values())) for s in p.splits(TASK)
    )
    assert sizes == [(66, 264), (210, 839)]


def test_demo_ratings_become_annotations(demo_import, demo_src):
    root, _ = demo_import
    p = Project(root)
    states = p.states(TASK)
    rated = [s for s in states.values() if s.rated]
    assert len(rated) == 34 and {a.rater for s in rated for a in s.annotations} == {"scosman"}
    assert Counter(s.requirement("correctness").value for s in rated) == {1.0: 26, 0.0: 8}
    assert all(s.rating is None for s in rated)  # Kiln's five_star overall value was null
    assert all("eval_golden_correctness" in s.tags for s in rated)
    # Kiln's rating created_at is kept as rated_at (the demo's 34 ratings were given on one day).
    stamps = sorted(a.rated_at for s in rated for a in s.annotations)
    assert len(stamps) == 34 and all(stamps) and stamps[0][:10] == stamps[-1][:10]
    requirement = p.task(TASK).requirement("correctness")
    assert requirement.kiln_id == "named::Correctness" and requirement.type == "pass_fail"
    source_eval = next(
        e for e in _kiln(demo_src, "tasks/*/evals/*/eval.kiln") if e["name"] == "Issue - Correctness"
    )
    assert requirement.instruction == source_eval["output_scores"][0]["instruction"]


def test_demo_tags_match_the_source(demo_import, demo_src):
    root, _ = demo_import
    source = Counter(t for run in _kiln(demo_src, "tasks/*/runs/*/task_run.kiln") for t in run["tags"])
    imported = Counter(t for r in Project(root).runs(TASK).values() if r.parent is None for t in r.tags)
    assert imported == source and source["fine_tune_data"] == 1049


def test_demo_records_field_by_field(demo_import, demo_src):
    root, _ = demo_import
    p = Project(root)
    by_kiln = {r.kiln_id: r for r in p.runs(TASK).values()}
    kiln_runs = _kiln(demo_src, "tasks/*/runs/*/task_run.kiln")
    for kr in kiln_runs[::97] + [r for r in kiln_runs if r["output"]["rating"]][:3]:
        run = by_kiln[kr["id"]]
        src, out = kr["input_source"], kr["output"]
        assert (run.input, run.output, run.tags) == (kr["input"], out["output"], sorted(kr["tags"]))
        assert run.input_source.type == src["type"]
        if src["type"] == "synthetic":
            assert run.input_source.model == src["properties"]["model_name"]
            assert run.input_source.provider == src["properties"]["model_provider"]
            topic = src["properties"].get("topic_path")
            assert run.input_source.topic == ([topic] if topic else None)
        else:
            assert run.input_source.created_by == src["properties"]["created_by"]
        props = out["source"]["properties"]
        if props["model_provider"] != "kiln_fine_tune":
            assert (run.output_source.model, run.output_source.provider) == (
                props["model_name"],
                props["model_provider"],
            )
        assert run.usage.model_dump(exclude_none=True) == {
            k: v for k, v in kr["usage"].items() if v is not None
        }
        assert p.prompts(TASK)[run.output_source.prompt].kiln_id.endswith(
            props["prompt_id"].rsplit("::", 1)[-1]
        )
        rating = out["rating"]
        annotation = next((a for a in p.annotations(TASK) if a.run == run.id), None)
        if rating is None:
            assert annotation is None
        else:
            assert annotation.rater == rating["created_by"] and annotation.kiln_id == rating["id"]
            assert (
                annotation.requirements["correctness"].value
                == rating["requirement_ratings"]["named::Correctness"]["value"]
            )


def test_demo_eval_runs_become_judge_results(demo_import, demo_src):
    root, _ = demo_import
    p = Project(root)
    runs = p.runs(TASK)
    by_kiln = {r.kiln_id: r for r in runs.values() if r.parent is None}
    results = {r.kiln_id: (e, r) for e in p.evals(TASK) for r in p.judge_results(TASK, e)}
    configs = {c["id"]: c for c in _kiln(demo_src, "tasks/*/evals/*/configs/*/eval_config.kiln")}
    for path in sorted(demo_src.glob("tasks/*/evals/*/configs/*/runs/*/eval_run.kiln"))[::211]:
        er = json.loads(path.read_text())
        eval_slug, result = results[er["id"]]
        ev, judge = p.evals(TASK)[eval_slug], p.judges(TASK, eval_slug)[result.judge]
        config = configs[path.parents[2].name.split(" ")[0]]
        assert (judge.kiln_id, judge.model, judge.provider, judge.type) == (
            config["id"],
            config["model_name"],
            config["model_provider"],
            config["config_type"],
        )
        assert all(step in judge.instructions for step in config["properties"]["eval_steps"])
        assert result.scores == {json_key(k): v for k, v in er["scores"].items()}
        assert result.reasoning == (
            er["intermediate_outputs"].get("reasoning") or er["intermediate_outputs"].get("chain_of_thought")
        )
        assert result.judge_hash == judge_hash(judge, ev)  # current, not stale
        scored = by_kiln[er["dataset_id"]]
        run = runs[result.run]
        if er["eval_config_eval"]:
            assert run is scored
        else:
            assert run.kiln_id == er["id"] and run.parent == scored.id and run.output == er["output"]
            assert run.input == scored.input and run.output_source.run_config
            assert p.run_configs(TASK)[run.output_source.run_config].kiln_id == er["task_run_config_id"]
            assert run.usage.input_tokens == er["task_run_usage"]["input_tokens"]
    current = {e.kiln_id: e for e in p.evals(TASK).values()}
    for ke in _kiln(demo_src, "tasks/*/evals/*/eval.kiln"):
        ev = current[ke["id"]]
        assert ev.name == ke["name"] and ev.eval_set == ke["eval_set_filter_id"]
        assert ev.golden_set == ke["eval_configs_filter_id"]
        judges = p.judges(TASK, next(s for s, e in p.evals(TASK).items() if e is ev))
        assert (judges[ev.default_judge].kiln_id if ev.default_judge else None) == ke["current_config_id"]


def test_demo_definitions_field_by_field(demo_import, demo_src):
    root, _ = demo_import
    p = Project(root)
    configs = {c.kiln_id: c for c in p.run_configs(TASK).values()}
    for kc in _kiln(demo_src, "tasks/*/run_configs/*/task_run_config.kiln"):
        props, rc = kc["run_config_properties"], configs[kc["id"]]
        assert (rc.temperature, rc.top_p) == (props["temperature"], props["top_p"])
        if props["model_provider_name"] not in ("kiln_fine_tune", "kiln_custom_registry"):
            assert (rc.provider, rc.model) == (props["model_provider_name"], props["model_name"])
        if props["prompt_id"].startswith("id::"):
            assert p.prompts(TASK)[rc.prompt].kiln_id == props["prompt_id"][4:]
    tunes = {ft.kiln_id: (slug, ft) for slug, ft in p.finetunes(TASK).items()}
    splits = {s.kiln_id: slug for slug, s in p.splits(TASK).items()}
    for kf in _kiln(demo_src, "tasks/*/finetunes/*/finetune.kiln"):
        slug, ft = tunes[kf["id"]]
        status = p.finetune_status(TASK, slug)
        backend = FINETUNE_BACKENDS.get(kf["provider"], (kf["provider"], {}))[0]  # fireworks_ai -> fireworks
        assert (ft.provider, ft.base_model, ft.split) == (
            backend,
            kf["base_model_id"],
            splits[kf["dataset_split_id"]],
        )
        assert ft.params == kf["parameters"]  # the demo's (epochs, lora_rank) are Fireworks' names too
        assert (status.provider_job_id, status.fine_tuned_model) == (
            kf["provider_id"],
            kf["fine_tune_model_id"],
        )
        assert p.prompts(TASK)[ft.prompt].system == kf["system_message"]


def test_demo_reimport_is_byte_identical(demo_import, demo_src, bulk_tmp):
    """A second import of the same source gives the same bytes (re-importing in place, which writes nothing,
    is checked on the small projects of test_import.py)."""
    root, _ = demo_import
    import_kiln(demo_src, bulk_tmp / "fresh")
    # The shared import is read by tests elsewhere, whose reads leave this machine's cache in .kilngit/cache/
    # (local state, not part of what an import writes).
    imported = {rel: h for rel, h in tree_hashes(root).items() if not rel.startswith(".kilngit/cache/")}
    assert tree_hashes(bulk_tmp / "fresh") == imported
