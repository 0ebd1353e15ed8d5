"""Planning the task runs of one Kiln task and the annotations hidden in them (ratings and repairs)."""

from __future__ import annotations

import json
from typing import Any

from kilngit.kiln import mapping
from kilngit.kiln.mapping import Unmappable
from kilngit.kiln.plan import TaskContext
from kilngit.kiln.plan_defs import named_requirement, prompt_ref
from kilngit.kiln.reader import KilnRecord
from kilngit.records import Annotation, Rating, TaskRun

#: Rater of Kiln ratings and repairs that do not say who made them.
DEFAULT_RATER = "kiln-import"


def plan_runs(ctx: TaskContext) -> None:
    """One TaskRun per Kiln task run, and one Annotation per person who rated or repaired it."""
    for rec in ctx.kiln.runs:
        run = ctx.attempt(rec, _run, ctx, rec)
        if run is None:
            continue
        ctx.runs[rec.id] = run
        ctx.add(run)
        for annotation in ctx.attempt(rec, _annotations, ctx, rec, run) or []:
            ctx.add(annotation)


def text(value: Any) -> str:
    """Kiln inputs and outputs are strings (JSON text for structured tasks); other values become JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _run(ctx: TaskContext, rec: KilnRecord) -> TaskRun:
    d = rec.data
    warn = ctx.warner(rec.path)
    if "input" not in d or d["input"] is None:
        raise Unmappable("task run has no input", "restore the file from a backup")
    out: dict[str, Any] = d["output"] if isinstance(d.get("output"), dict) else {}
    output = out.get("output")
    out_source = None
    if output is not None:
        src: dict[str, Any] = out["source"] if isinstance(out.get("source"), dict) else {}
        props = src.get("properties") or {}
        prompt = prompt_ref(ctx, str(props["prompt_id"]), rec.path) if props.get("prompt_id") else None
        rc = ctx.run_configs.get(str(src.get("run_config_id") or props.get("run_config_id")))
        out_source = mapping.source(
            src or None, warn, prompt=prompt, run_config=rc[0] if rc else None, finetunes=ctx.finetune_models
        )
    if d.get("trace") or d.get("parent_task_run_id"):
        warn("the run's multi-turn trace and parent run are not imported (kilngit runs are single-turn)")
    intermediate = {k: text(v) for k, v in (d.get("intermediate_outputs") or {}).items() if v is not None}
    reasoning = intermediate.pop("reasoning", None) or intermediate.pop("chain_of_thought", None)
    tags = d.get("tags") or []
    return TaskRun(
        task=ctx.slug,
        input=text(d["input"]),
        input_source=mapping.source(d.get("input_source"), warn, finetunes=ctx.finetune_models),
        output=text(output) if output is not None else None,
        output_source=out_source,
        reasoning=reasoning,
        intermediate_outputs=intermediate or None,
        usage=mapping.usage(d.get("usage")),
        tags=sorted({str(t) for t in tags if t}),
        kiln_id=rec.id,
    ).with_id()  # type: ignore[return-value]


def _annotations(ctx: TaskContext, rec: KilnRecord, run: TaskRun) -> list[Annotation]:
    """Kiln keeps one rating per output (its `created_by` is the rater) and one repair per run (by the person
    in the repaired output's source); each becomes that person's annotation."""
    d = rec.data
    out: dict[str, Any] = d["output"] if isinstance(d.get("output"), dict) else {}
    fields: dict[str, dict[str, Any]] = {}
    rating = out.get("rating")
    if isinstance(rating, dict):
        rater = str(rating.get("created_by") or out.get("created_by") or DEFAULT_RATER)
        overall, requirements = _rating(ctx, rec, rating)
        if overall or requirements:
            fields[rater] = {
                "rating": overall,
                "requirements": requirements,
                "kiln_id": rating.get("id"),
                "rated_at": mapping.stamp(rating.get("created_at")),
            }
    repaired = d.get("repaired_output")
    if isinstance(repaired, dict) and repaired.get("output") is not None:
        props = (repaired.get("source") or {}).get("properties") or {}
        rater = str(props.get("created_by") or repaired.get("created_by") or DEFAULT_RATER)
        entry = fields.setdefault(
            rater, {"kiln_id": repaired.get("id"), "rated_at": mapping.stamp(repaired.get("created_at"))}
        )
        entry["repaired_output"] = text(repaired["output"])
        entry["note"] = d.get("repair_instructions") or None
    return [Annotation(task=ctx.slug, run=run.id, rater=rater, **f) for rater, f in sorted(fields.items())]


def _rating(
    ctx: TaskContext, rec: KilnRecord, data: dict[str, Any]
) -> tuple[Rating | None, dict[str, Rating]]:
    warn = ctx.warner(rec.path)
    overall = None
    if data.get("value") is not None:
        try:
            overall = mapping.rating(data["value"], data.get("type") or "five_star", "the overall rating")
        except Unmappable as e:
            warn(f"{e}; left out")
    requirements: dict[str, Rating] = {}
    for key, entry in sorted((data.get("requirement_ratings") or {}).items()):
        if isinstance(entry, dict):
            value, rating_type = entry.get("value"), entry.get("type") or "five_star"
        else:  # Kiln's old format: {requirement ID: stars}
            value, rating_type = entry, "five_star"
        if value is None:
            continue
        try:
            rating = mapping.rating(value, rating_type, f"rating {key!r}")
        except Unmappable as e:
            warn(f"{e}; left out")
            continue
        slug = _requirement_slug(ctx, key, rating_type)
        if slug is None:
            warn(f"rating {key!r} names a requirement the task does not have; left out")
            continue
        if ctx.requirements[slug].type != rating.type:
            ctx.error(
                rec.path,
                f"rating {key!r} is {rating.type} but requirement {slug!r} is "
                f"{ctx.requirements[slug].type}; left out",
                "fix the rating in Kiln",
            )
            continue
        requirements[slug] = rating
    return overall, requirements


def _requirement_slug(ctx: TaskContext, key: str, rating_type: str) -> str | None:
    if key.startswith("named::"):
        return named_requirement(ctx, key, rating_type)
    return ctx.requirement_keys.get(key)
