"""Exporting one task's evals to Kiln: evals, LLM judges as eval configs, current judge results as eval runs."""

from __future__ import annotations

from collections import Counter

from kilngit.kiln import export_mapping as xm
from kilngit.kiln.exporter import TaskExport, folder_name
from kilngit.kiln.mapping import parse_eval_steps
from kilngit.kiln.names import json_key, kiln_name, title_from_slug
from kilngit.records import Eval, Judge, JudgeResult
from kilngit.records.evals import judge_hash

#: Judge types Kiln has (as eval config types); code judges and simple checks stay in kilngit.
KILN_JUDGES = ("llm_as_judge", "g_eval")


def score_names(t: TaskExport) -> dict[str, str]:
    """Kiln names of the eval scores: the original Kiln name when the score came from Kiln (its requirement
    says `named::Name`), else a title made from the slug."""
    from_kiln = {
        r.name: r.kiln_id[7:]
        for r in t.task.requirements
        if r.kiln_id is not None and r.kiln_id.startswith("named::")
    }
    out = {}
    for ev in t.project.evals(t.slug).values():
        for score in ev.scores:
            original = from_kiln.get(score.name)
            out[score.name] = (
                original
                if original and kiln_name(original, 32) == original
                else title_from_slug(score.name, 32, words="-_")
            )
    return out


def plan_eval_filters(t: TaskExport) -> None:
    """Kiln filter IDs for each eval's sets. A kilngit filter Kiln cannot express becomes a tag put on the
    runs it selects (`kilngit_eval_set_<eval>` / `kilngit_golden_<eval>`)."""
    for slug, ev in t.project.evals(t.slug).items():
        ids = []
        for purpose, text in (("eval_set", ev.eval_set), ("golden", ev.golden_set)):
            kiln = xm.kiln_filter(text)
            if kiln is None:
                tag = f"kilngit_{purpose}_{slug}"
                for state in t.project.select(t.slug, text):
                    t.extra_tags.setdefault(state.id, set()).add(tag)
                kiln = f"tag::{tag}"
            ids.append(kiln)
        t.eval_filters[slug] = (ids[0], ids[1])


def _exportable_judges(t: TaskExport, slug: str, ev: Eval) -> dict[str, Judge]:
    return {
        name: j
        for name, j in t.project.judges(t.slug, slug).items()
        if j.type in KILN_JUDGES and j.model and j.provider
    }


def _current_results(t: TaskExport, slug: str, ev: Eval, skipped: Counter[str]) -> list[JudgeResult]:
    """Results Kiln can hold: from an LLM judge at its current definition, with every score of the eval."""
    judges = _exportable_judges(t, slug, ev)
    hashes = {name: judge_hash(j, ev, judges) for name, j in judges.items()}
    names = {s.name for s in ev.scores}
    out = []
    for r in t.project.judge_results(t.slug, slug):
        if r.judge not in judges:
            skipped["from a judge Kiln has no equivalent for"] += 1
        elif r.judge_hash != hashes[r.judge]:
            skipped["stale (the judge changed since)"] += 1
        elif r.error or set(r.scores) != names:
            skipped["errors or incomplete scores"] += 1
        else:
            out.append(r)
    return sorted(out, key=lambda r: r.id)


def judged_runs(t: TaskExport) -> set[str]:
    """Runs with at least one result Kiln can hold."""
    return {
        r.run
        for slug, ev in t.project.evals(t.slug).items()
        for r in _current_results(t, slug, ev, Counter())
    }


def export_evals(t: TaskExport, embedded: set[str]) -> None:
    for slug, ev in t.project.evals(t.slug).items():
        _eval(t, slug, ev, embedded)


def _eval(t: TaskExport, slug: str, ev: Eval, embedded: set[str]) -> None:
    eid = t.ids.get("eval", f"{t.slug}/{slug}", ev.kiln_id)
    judges = _exportable_judges(t, slug, ev)
    config_ids = {
        name: t.ids.get("eval_config", f"{t.slug}/{slug}/{name}", j.kiln_id) for name, j in judges.items()
    }
    for name in sorted(set(t.project.judges(t.slug, slug)) - set(judges)):
        t.writer.warn(
            f"tasks/{t.slug}/evals/{slug}/judges/{name}.yaml",
            "Kiln has no equivalent for this kind of judge; not exported",
        )
    eval_set, golden = t.eval_filters[slug]
    folder = t.path("evals", folder_name(eid, kiln_name(ev.name)))
    t.writer.write(
        folder,
        t.writer.record(
            "eval",
            eid,
            {
                "name": kiln_name(ev.name),
                "description": ev.description,
                "template": None,
                "current_config_id": config_ids.get(ev.default_judge or ""),
                "current_run_config_id": None,
                "eval_set_filter_id": eval_set,
                "eval_configs_filter_id": golden,
                "output_scores": [
                    {"name": t.score_names[s.name], "instruction": s.instruction, "type": s.type}
                    for s in ev.scores
                ],
                "favourite": False,
                "template_properties": {},
            },
        ),
    )
    config_folders = {}
    for name, judge in judges.items():
        description, steps = parse_eval_steps(judge.instructions)
        properties: dict[str, object] = {
            "eval_steps": steps or ["Score the output against each score's instruction."]
        }
        if description:
            properties["task_description"] = description
        title = title_from_slug(name)
        config_folders[name] = t.writer.write(
            f"{folder}/configs/{folder_name(config_ids[name], title)}",
            t.writer.record(
                "eval_config",
                config_ids[name],
                {
                    "name": title,
                    "model_name": judge.model,
                    "model_provider": judge.provider,
                    "config_type": judge.type,
                    "properties": properties,
                },
            ),
        )
    skipped: Counter[str] = Counter()
    for result in _current_results(t, slug, ev, skipped):
        _eval_run(t, result, config_folders[result.judge], embedded, skipped)
    for reason, n in sorted(skipped.items()):
        t.writer.warn(f"tasks/{t.slug}/evals/{slug}/results", f"{n} judge result(s) not exported: {reason}")


def _eval_run(
    t: TaskExport, result: JudgeResult, config_folder: str, embedded: set[str], skipped: Counter[str]
) -> None:
    run = t.states[result.run].run
    if result.run in embedded and run.parent in t.run_ids:
        dataset, run_config = t.run_ids[run.parent], t.run_config_ids[run.output_source.run_config]  # type: ignore[union-attr,index]
    elif result.run in t.run_ids:
        dataset, run_config = t.run_ids[result.run], None
    else:
        skipped["their run was not exported"] += 1
        return
    intermediate = (
        {"reasoning": result.reasoning, "chain_of_thought": result.explanation}
        if result.explanation and result.reasoning
        else {"chain_of_thought": result.reasoning}
        if result.reasoning
        else {}
    )
    rid = t.ids.get("eval_run", result.id, result.kiln_id)
    t.writer.write(
        f"{config_folder}/runs/{rid}",
        t.writer.record(
            "eval_run",
            rid,
            {
                "dataset_id": dataset,
                "task_run_config_id": run_config,
                "eval_config_eval": run_config is None,
                "input": run.input,
                "output": run.output,
                "intermediate_outputs": intermediate,
                "scores": {json_key(t.score_names[k]): v for k, v in sorted(result.scores.items())},
                "task_run_usage": xm.usage(run.usage),
            },
        ),
    )
