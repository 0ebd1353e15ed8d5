"""Exporting one task to Kiln: the task, prompts, run configs, runs with their ratings, splits, fine-tunes
(evals are in `export_evals`)."""

from __future__ import annotations

import json
from typing import Any

from kilngit import layout
from kilngit.kiln import export_mapping as xm
from kilngit.kiln.export_evals import export_evals, judged_runs, plan_eval_filters, score_names
from kilngit.kiln.exporter import KilnIds, KilnWriter, TaskExport, folder_name
from kilngit.kiln.names import kiln_name, title_from_slug
from kilngit.project import Project
from kilngit.records import Prompt, Task
from kilngit.state import RunState


def export_task(project: Project, slug: str, project_id: str, ids: KilnIds, writer: KilnWriter) -> None:
    """Write one task and everything under it."""
    t = TaskExport(project, slug, project_id, ids, writer)
    t.score_names = score_names(t)
    _task(t)
    _prompts(t)
    _run_configs(t)
    plan_eval_filters(t)
    embedded = _embedded_generations(t)
    for rid, state in sorted(t.states.items()):
        if rid not in embedded:
            _run(t, state)
    export_evals(t, embedded)
    _splits(t)
    _finetunes(t)


def _task(t: TaskExport) -> None:
    reqs = []
    for r in t.task.requirements:
        if r.name in t.score_names or (r.kiln_id or "").startswith("named::"):
            t.requirement_keys[r.name] = f"named::{t.score_names.get(r.name) or r.kiln_id[7:]}"  # type: ignore[index]
            continue
        rid = t.ids.get("requirement", f"{t.slug}/{r.name}", r.kiln_id)
        t.requirement_keys[r.name] = rid
        reqs.append(
            {
                "id": rid,
                "name": title_from_slug(r.name, 32),
                "description": "",
                "instruction": r.instruction,
                # Kiln has no label rating; its `custom` type is the one that holds no structured value.
                "priority": r.priority,
                "type": "custom" if r.type == "label" else r.type,
            }
        )
    schema = {
        k: json.dumps(v) if v else None
        for k, v in (("input_json_schema", t.task.input_schema), ("output_json_schema", t.task.output_schema))
    }
    t.writer.write(
        t.folder,
        t.writer.record(
            "task",
            t.task_id,
            {
                "name": kiln_name(t.task.name),
                "description": t.task.description or "",
                "instruction": t.task.instruction,
                "requirements": reqs,
                **schema,
                "thinking_instruction": t.task.thinking_instruction or None,
            },
        ),
    )


def _prompts(t: TaskExport) -> None:
    """Builders stay prompt IDs, frozen prompts go inside their run configs, fine-tune prompts become the
    fine-tune's prompt ID, and the rest are Kiln saved prompts."""
    finetune_of = {ft.prompt: name for name, ft in t.project.finetunes(t.slug).items() if ft.prompt}
    for slug, prompt in t.project.prompts(t.slug).items():
        kiln_id = prompt.kiln_id or ""
        if kiln_id in xm.BUILDERS:
            t.prompt_ids[slug] = kiln_id
        elif kiln_id.startswith("task_run_config::"):
            t.frozen[slug] = prompt
        elif kiln_id.startswith("fine_tune_prompt::") and slug in finetune_of:
            t.prompt_ids[slug] = (
                f"fine_tune_prompt::{t.project_id}::{t.task_id}::{t.finetune_ids[finetune_of[slug]]}"
            )
        else:
            pid = t.ids.get("prompt", f"{t.slug}/{slug}", prompt.kiln_id)
            t.prompt_ids[slug] = f"id::{pid}"
            name = title_from_slug(slug)
            t.writer.write(
                t.path("prompts", folder_name(pid, name)),
                t.writer.record(
                    "prompt",
                    pid,
                    {
                        "name": name,
                        "description": prompt.description or "",
                        "generator_id": None,
                        "prompt": t.prompt_text(prompt),
                        "chain_of_thought_instructions": _cot(prompt, t.task),
                    },
                ),
            )


def _cot(prompt: Prompt, task: Task) -> str | None:
    return (
        (prompt.thinking_instruction or task.thinking_instruction or "Think step by step.")
        if prompt.chain_of_thought
        else None
    )


def _run_configs(t: TaskExport) -> None:
    for slug, rc in t.project.run_configs(t.slug).items():
        rid = t.ids.get("task_run_config", f"{t.slug}/{slug}", rc.kiln_id)
        t.run_config_ids[slug] = rid
        frozen = None
        if rc.prompt in t.frozen:
            prompt = t.frozen[rc.prompt]
            prompt_id = f"task_run_config::{t.project_id}::{t.task_id}::{rid}"
            frozen = {
                "name": title_from_slug(rc.prompt),
                "description": prompt.description,
                "generator_id": None,
                "prompt": t.prompt_text(prompt),
                "chain_of_thought_instructions": _cot(prompt, t.task),
            }
        else:
            prompt_id = t.prompt_ids.get(rc.prompt, "simple_prompt_builder")
        provider, model = xm.model_ref(rc.provider, rc.model, t.finetune_models)
        name = title_from_slug(slug)
        t.writer.write(
            t.path("run_configs", folder_name(rid, name)),
            t.writer.record(
                "task_run_config",
                rid,
                {
                    "name": name,
                    "description": rc.description,
                    "run_config_properties": {
                        "model_name": model,
                        "model_provider_name": provider,
                        "prompt_id": prompt_id,
                        "top_p": rc.top_p if rc.top_p is not None else 1.0,
                        "temperature": rc.temperature if rc.temperature is not None else 1.0,
                        "structured_output_mode": xm.STRUCTURED_OUTPUT[rc.structured_output],
                    },
                    "prompt": frozen,
                },
            ),
        )


def _embedded_generations(t: TaskExport) -> set[str]:
    """Runs a run config made for an eval (they have a parent and a run config), judged and not annotated:
    Kiln keeps such outputs only inside its eval runs."""
    judged = judged_runs(t)
    out = set()
    for rid, state in t.states.items():
        run = state.run
        src = run.output_source
        if (
            rid in judged
            and run.parent in t.states
            and not state.annotations
            and src is not None
            and src.run_config in t.run_config_ids
            and t.states[run.parent].run.output is not None
        ):
            out.add(rid)
    return out


def _run(t: TaskExport, state: RunState) -> None:
    run = state.run
    if run.output is None or run.output_source is None:
        t.writer.warn(
            layout.run_file(t.slug, run.id),
            "Kiln runs need an output; this input-only or failed run was not exported",
        )
        return
    rid = t.ids.get("task_run", run.id, run.kiln_id)
    t.run_ids[run.id] = rid
    creator = run.input_source.created_by or "kilngit"
    intermediate = dict(run.intermediate_outputs or {})
    if run.reasoning:
        intermediate["reasoning"] = run.reasoning
    src = run.output_source
    prompt_id = t.prompt_ids.get(src.prompt or "") or (
        f"task_run_config::{t.project_id}::{t.task_id}::{t.run_config_ids[src.run_config]}"
        if src.run_config in t.run_config_ids and src.prompt in t.frozen
        else None
    )
    output = t.writer.record(
        "task_output",
        t.ids.get("task_output", run.id),
        {
            "path": None,
            "output": run.output,
            "source": xm.source(src, t.finetune_models, prompt_id),
            "rating": _rating(t, state),
        },
        creator,
    )
    repair = _repair(t, state)
    t.writer.write(
        t.path("runs", rid),
        t.writer.record(
            "task_run",
            rid,
            {
                "input": run.input,
                "input_source": xm.source(run.input_source, t.finetune_models),
                "output": output,
                **repair,
                "intermediate_outputs": intermediate,
                "tags": sorted({xm.tag(x) for x in state.tags} | t.extra_tags.get(run.id, set())),
                "usage": xm.usage(run.usage),
            },
            creator,
        ),
    )


def _rating(t: TaskExport, state: RunState) -> dict[str, Any] | None:
    """The raters' consensus as Kiln's one rating per output (created_by: the rater, or "consensus")."""
    requirements = {}
    for name, key in t.requirement_keys.items():
        c = state.requirement(name)
        value = xm.rating_value(c)
        if c is not None and value is not None:
            requirements[key] = {"value": value, "type": c.type}
    overall = state.rating
    value = xm.rating_value(overall)
    if value is None and not requirements:
        return None
    raters = sorted({a.rater for a in state.annotations if a.rating or a.requirements})
    kiln_id = state.annotation_by(raters[0]).kiln_id if len(raters) == 1 else None  # type: ignore[union-attr]
    record = t.writer.record(
        "task_output_rating",
        t.ids.get("rating", state.id, kiln_id),
        {
            "path": None,
            "type": overall.type if overall and value is not None else "five_star",
            "value": value,
            "requirement_ratings": requirements,
        },
        raters[0] if len(raters) == 1 else "consensus",
    )
    stamps = [a.rated_at for a in state.annotations if a.rated_at and (a.rating or a.requirements)]
    if stamps:  # the last rating's time, in Kiln's zone-less form (an import reads it back as rated_at)
        record["created_at"] = max(stamps).rstrip("Z")
    return record


def _repair(t: TaskExport, state: RunState) -> dict[str, Any]:
    repaired = state.repaired_output
    if repaired is None:
        return {"repair_instructions": None, "repaired_output": None}
    author = next(a for a in state.annotations if a.repaired_output == repaired)
    output = t.writer.record(
        "task_output",
        t.ids.get("repaired_output", state.id),
        {
            "path": None,
            "output": repaired,
            "source": {"type": "human", "properties": {"created_by": author.rater}},
            "rating": None,
        },
        author.rater,
    )
    return {"repair_instructions": author.note or "Repaired in kilngit.", "repaired_output": output}


def _splits(t: TaskExport) -> None:
    for slug, split in t.project.splits(t.slug).items():
        membership = t.project.split_membership(t.slug, slug)
        path = f"tasks/{t.slug}/splits/{slug}.yaml"
        if membership is None:
            t.writer.warn(path, "the split has no frozen membership (materialize it first); not exported")
            continue
        contents = {
            part: [t.run_ids[r] for r in ids if r in t.run_ids] for part, ids in membership.parts.items()
        }
        left_out = sum(len(ids) for ids in membership.parts.values()) - sum(len(v) for v in contents.values())
        if left_out:
            t.writer.warn(
                path, f"{left_out} member run(s) were not exported as Kiln runs; left out of the split"
            )
        sid = t.split_ids[slug] = t.ids.get("dataset_split", f"{t.slug}/{slug}", split.kiln_id)
        name = title_from_slug(slug)
        t.writer.write(
            t.path("dataset_splits", folder_name(sid, name)),
            t.writer.record(
                "dataset_split",
                sid,
                {
                    "name": name,
                    "description": split.description,
                    "splits": [
                        {"name": p.name, "description": None, "percentage": p.fraction} for p in split.parts
                    ],
                    "split_contents": contents,
                    "filter": xm.kiln_filter(split.filter) or "all",
                },
            ),
        )


def _finetunes(t: TaskExport) -> None:
    for slug, ft in t.project.finetunes(t.slug).items():
        split_id = t.split_ids.get(ft.split)
        if split_id is None:
            t.writer.warn(
                f"tasks/{t.slug}/finetunes/{slug}/finetune.yaml",
                f"its split {ft.split!r} was not exported; fine-tune not exported",
            )
            continue
        status = t.project.finetune_status(t.slug, slug)
        prompt = t.project.prompts(t.slug).get(ft.prompt or "")
        details = (status.details or {}) if status else {}
        fid = t.finetune_ids[slug]
        name = title_from_slug(slug)
        kiln_provider, names = xm.FINETUNE_PROVIDERS.get(ft.provider, (ft.provider, {}))
        t.writer.write(
            t.path("finetunes", folder_name(fid, name)),
            t.writer.record(
                "finetune",
                fid,
                {
                    "name": name,
                    "description": ft.description or "",
                    "structured_output_mode": None,
                    "provider": kiln_provider,
                    "base_model_id": ft.base_model,
                    "provider_id": status.provider_job_id if status else None,
                    "fine_tune_model_id": status.fine_tuned_model if status else None,
                    "dataset_split_id": split_id,
                    "train_split_name": ft.train_part,
                    "validation_split_name": ft.validation_part,
                    "parameters": {names.get(k, k): v for k, v in ft.params.items()},
                    "system_message": t.prompt_text(prompt),
                    "thinking_instructions": prompt.thinking_instruction if prompt else None,
                    "latest_status": xm.FINETUNE_STATE[status.state] if status else "unknown",
                    "properties": details.get("kiln_properties") or {},
                    "data_strategy": xm.TRAIN_ON[ft.train_on],
                },
            ),
        )
