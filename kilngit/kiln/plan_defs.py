"""Planning the definitions of one Kiln task: prompts, run configs, dataset splits, fine-tunes, the task."""

from __future__ import annotations

import json
from typing import Any

from kilngit import layout
from kilngit.finetune.splits import definition_hash
from kilngit.kiln import mapping
from kilngit.kiln.mapping import Unmappable
from kilngit.kiln.names import score_slug
from kilngit.kiln.plan import TaskContext
from kilngit.kiln.reader import KilnRecord, KilnTask
from kilngit.records import (
    DatasetSplit,
    FineTune,
    FineTuneStatus,
    Prompt,
    Requirement,
    RunConfig,
    SplitMembership,
    SplitPart,
    Task,
)


def plan_definitions(ctx: TaskContext) -> None:
    """Slugs for splits and fine-tunes, then prompts (saved, fine-tune, frozen, builders) and run configs."""
    for rec in ctx.kiln.dataset_splits:
        ctx.splits[rec.id] = (
            ctx.split_slugs.take(str(rec.data.get("name") or rec.id), rec.id),
            {
                str(p.get("name")): score_slug(str(p.get("name")))
                for p in rec.data.get("splits") or []
                if isinstance(p, dict)
            },
        )
    for rec in ctx.kiln.finetunes:
        d = rec.data
        ctx.finetunes[rec.id] = ctx.finetune_slugs.take(str(d.get("name") or rec.id), rec.id)
        provider = str(d.get("provider"))  # the run config of its model: the backend's inference provider
        ctx.finetune_models[rec.id] = (
            mapping.FINETUNE_BACKENDS.get(provider, (provider, {}))[0],
            d.get("fine_tune_model_id"),
        )
    for rec in ctx.kiln.prompts:
        ctx.attempt(rec, _saved_prompt, ctx, rec)
    for rec in ctx.kiln.finetunes:
        ctx.attempt(rec, _finetune_prompt, ctx, rec)
    for rec in ctx.kiln.run_configs:
        ctx.attempt(rec, _run_config, ctx, rec)


def prompt_ref(ctx: TaskContext, prompt_id: str, path: str) -> str:
    """The slug of the prompt a Kiln prompt ID names, planning a prompt for builders and unknown IDs."""
    if prompt_id in ctx.prompts:
        return ctx.prompts[prompt_id]
    if prompt_id.startswith("id::") and prompt_id[4:] in ctx.prompts:
        return ctx.prompts[prompt_id[4:]]
    if "::" not in prompt_id:
        return ctx.add_prompt(prompt_id, mapping.prompt_for_builder(prompt_id))
    ctx.warner(path)(
        f"prompt {prompt_id!r} does not exist in the Kiln project; imported as a placeholder prompt"
    )
    return ctx.add_prompt(
        prompt_id,
        Prompt(description=f"Placeholder for Kiln prompt {prompt_id} (not found).", kiln_id=prompt_id),
    )


def _saved_prompt(ctx: TaskContext, rec: KilnRecord) -> None:
    d = rec.data
    cot = d.get("chain_of_thought_instructions") or None
    ctx.add_prompt(
        str(d.get("name") or rec.id),
        Prompt(
            description=d.get("description") or None,
            system=d["prompt"],
            include_requirements=False,
            chain_of_thought=bool(cot),
            thinking_instruction=cot,
            kiln_id=rec.id,
        ),
    )


def _finetune_prompt(ctx: TaskContext, rec: KilnRecord) -> None:
    d = rec.data
    thinking = d.get("thinking_instructions") or None
    kiln_id = f"fine_tune_prompt::{ctx.project_id}::{ctx.kiln_task_id}::{rec.id}"
    ctx.add_prompt(
        f"{ctx.finetunes[rec.id]}-prompt",
        Prompt(
            description="System message of a Kiln fine-tune.",
            system=d["system_message"],
            include_requirements=False,
            chain_of_thought=bool(thinking),
            thinking_instruction=thinking,
            kiln_id=kiln_id,
        ),
    )


def _run_config(ctx: TaskContext, rec: KilnRecord) -> None:
    d = rec.data
    props = d["run_config_properties"]
    frozen = d.get("prompt")
    if isinstance(frozen, dict) and frozen.get("prompt"):
        cot = frozen.get("chain_of_thought_instructions") or None
        ctx.add_prompt(
            str(frozen.get("name") or rec.id),
            Prompt(
                description=frozen.get("description") or None,
                system=frozen["prompt"],
                include_requirements=False,
                chain_of_thought=bool(cot),
                thinking_instruction=cot,
                kiln_id=f"task_run_config::{ctx.project_id}::{ctx.kiln_task_id}::{rec.id}",
            ),
        )
    if not props.get("model_name") or not props.get("model_provider_name"):
        raise Unmappable("run config has no model (only Kiln's model run configs can be imported)")
    provider, model = mapping.model_ref(
        props["model_provider_name"], props["model_name"], ctx.finetune_models
    )
    mode = props.get("structured_output_mode") or "default"
    if mode not in mapping.STRUCTURED_OUTPUT or mode.startswith("function_calling"):
        ctx.warner(rec.path)(f"structured output mode {mode!r} has no kilngit equivalent; using auto")
    config = RunConfig(
        description=d.get("description") or None,
        provider=provider,
        model=model,
        prompt=prompt_ref(ctx, str(props.get("prompt_id") or "simple_prompt_builder"), rec.path),
        temperature=props.get("temperature"),
        top_p=props.get("top_p"),
        structured_output=mapping.STRUCTURED_OUTPUT.get(mode, "auto"),  # type: ignore[arg-type]
        kiln_id=rec.id,
    )
    slug = ctx.run_config_slugs.take(str(d.get("name") or rec.id), rec.id)
    ctx.run_configs[rec.id] = (slug, config)
    ctx.define(layout.run_config_file(ctx.slug, slug), config)


def plan_splits_and_finetunes(ctx: TaskContext) -> None:
    """Dataset splits with their frozen membership, and fine-tunes with their status."""
    for rec in ctx.kiln.dataset_splits:
        ctx.attempt(rec, _split, ctx, rec)
    for rec in ctx.kiln.finetunes:
        ctx.attempt(rec, _finetune, ctx, rec)


def _split(ctx: TaskContext, rec: KilnRecord) -> None:
    d = rec.data
    slug, part_names = ctx.splits[rec.id]
    split = DatasetSplit(
        description=d.get("description") or None,
        filter=mapping.run_filter(d.get("filter"), ctx.warner(rec.path)),
        parts=[SplitPart(name=part_names[str(p["name"])], fraction=p["percentage"]) for p in d["splits"]],
        allow_eval_items=True,
        kiln_id=rec.id,
    )
    parts: dict[str, list[str]] = {}
    for name, kiln_ids in sorted((d.get("split_contents") or {}).items()):
        if name not in part_names:
            raise Unmappable(f"split_contents has part {name!r}, which the split does not define")
        missing = [i for i in kiln_ids if i not in ctx.runs]
        if missing:
            ctx.error(
                rec.path,
                f"part {name!r} lists {len(missing)} task run(s) that do not exist (e.g. "
                f"{missing[0]}); imported without them",
                "nothing to do, or restore the runs in Kiln",
            )
        parts[part_names[name]] = sorted({ctx.runs[i].id for i in kiln_ids if i in ctx.runs})
    ctx.define(layout.split_file(ctx.slug, slug), split)
    ctx.add(SplitMembership(task=ctx.slug, split=slug, definition_hash=definition_hash(split), parts=parts))


def _finetune(ctx: TaskContext, rec: KilnRecord) -> None:
    d = rec.data
    slug = ctx.finetunes[rec.id]
    split = ctx.splits.get(str(d.get("dataset_split_id")))
    if split is None:
        raise Unmappable(
            f"fine-tune points at dataset split {d.get('dataset_split_id')!r}, which does not exist",
            "restore the dataset split in Kiln or delete the fine-tune",
        )
    split_slug, part_names = split
    params: dict[str, Any] = {}
    for key, value in sorted((d.get("parameters") or {}).items()):
        if isinstance(value, bool | int | float | str):
            params[key] = value
        else:
            ctx.warner(rec.path)(f"parameter {key!r} is not a number, string or boolean; left out")
    backend, params = mapping.finetune_backend(str(d["provider"]), params, ctx.warner(rec.path))
    validation = d.get("validation_split_name")
    ft = FineTune(
        description=d.get("description") or None,
        provider=backend,
        base_model=d["base_model_id"],
        split=split_slug,
        train_part=part_names.get(d["train_split_name"], d["train_split_name"]),
        validation_part=part_names.get(validation, validation) if validation else None,
        prompt=ctx.prompts.get(f"fine_tune_prompt::{ctx.project_id}::{ctx.kiln_task_id}::{rec.id}"),
        train_on=mapping.DATA_STRATEGY.get(d.get("data_strategy") or "final_only", "final_answer"),  # type: ignore[arg-type]
        params=params,
        kiln_id=rec.id,
    )
    status = d.get("latest_status") or "unknown"
    ctx.define(layout.finetune_file(ctx.slug, slug), ft)
    ctx.add(
        FineTuneStatus(
            task=ctx.slug,
            finetune=slug,
            state=mapping.FINETUNE_STATE.get(status, "queued"),  # type: ignore[arg-type]
            provider_job_id=d.get("provider_id") or None,
            fine_tuned_model=d.get("fine_tune_model_id") or None,
            details={"kiln_properties": d["properties"]} if d.get("properties") else None,
        )
    )


def task_definition(kiln: KilnTask) -> Task:
    """The task definition, without requirements (added once the ratings have named theirs)."""
    d = kiln.record.data
    return Task(
        name=str(d.get("name") or kiln.record.id),
        description=d.get("description") or None,
        instruction=d["instruction"],
        thinking_instruction=d.get("thinking_instruction") or None,
        input_schema=_schema(d.get("input_json_schema")),
        output_schema=_schema(d.get("output_json_schema")),
        kiln_id=kiln.record.id,
    )


def plan_requirements(ctx: TaskContext) -> None:
    """The task's Kiln requirements (custom ones are left out: kilngit has no custom rating)."""
    for req in ctx.kiln.record.data.get("requirements") or []:
        warn = ctx.warner(ctx.kiln.record.path)
        if req.get("type") == "custom":
            warn(f"requirement {req.get('name')!r} is a custom rating, which kilngit does not have; left out")
            continue
        slug = score_slug(str(req.get("name") or req.get("id")))
        if slug in ctx.requirements:
            warn(
                f"requirements {req.get('name')!r} and {ctx.requirements[slug].kiln_id} share the name {slug!r}; "
                "merged"
            )
        else:
            ctx.requirements[slug] = Requirement(
                name=slug,
                instruction=req.get("instruction") or str(req.get("name")),
                type=req.get("type") or "five_star",
                priority=req.get("priority", 2),
                kiln_id=req.get("id"),
            )
        ctx.requirement_keys[str(req.get("id"))] = slug


def named_requirement(ctx: TaskContext, key: str, rating_type: str) -> str:
    """The requirement for a rating key `named::Score name`, added to the task on first use with the instruction
    of the eval score of that name."""
    if key in ctx.requirement_keys:
        return ctx.requirement_keys[key]
    name = key.removeprefix("named::")
    slug = score_slug(name)
    if slug not in ctx.requirements:
        instruction, score_type = _eval_score(ctx, slug)
        ctx.requirements[slug] = Requirement(
            name=slug,
            instruction=instruction or f"{name} (rated in Kiln)",
            type=score_type or rating_type,  # type: ignore[arg-type]
            kiln_id=key,
        )
    ctx.requirement_keys[key] = slug
    return slug


def _eval_score(ctx: TaskContext, slug: str) -> tuple[str | None, str | None]:
    for ev in ctx.kiln.evals:
        for score in ev.record.data.get("output_scores") or []:
            if isinstance(score, dict) and score_slug(str(score.get("name"))) == slug:
                return score.get("instruction") or None, score.get("type")
    return None, None


def _schema(text: Any) -> dict[str, Any] | None:
    if not text:
        return None
    if isinstance(text, dict):
        return text
    try:
        schema = json.loads(text)
    except (TypeError, json.JSONDecodeError) as e:
        raise Unmappable(f"the task's JSON schema is not valid JSON ({e})") from e
    return schema if isinstance(schema, dict) else None
