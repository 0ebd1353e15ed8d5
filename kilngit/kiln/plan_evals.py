"""Planning the evals of one Kiln task: evals, their configs as judges, and eval runs as judge results.

A Kiln eval run either grades a judge on an existing task run (`eval_config_eval: true`, the golden set) or
grades a run config: then its output is a new generation saved nowhere else, which becomes a new TaskRun
(synthetic, made by that run config, `parent` = the task run whose input it answered).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from kilngit import layout
from kilngit.kiln import mapping
from kilngit.kiln.mapping import Unmappable
from kilngit.kiln.names import SlugAllocator, json_key, score_slug
from kilngit.kiln.plan import TaskContext
from kilngit.kiln.plan_runs import text
from kilngit.kiln.reader import KilnEval, KilnRecord
from kilngit.records import Eval, EvalScore, Judge, JudgeResult, Source, TaskRun
from kilngit.records.evals import judge_hash


@dataclass
class _Scored:
    """An eval run waiting for its judge result (generations first need their TaskRun)."""

    rec: KilnRecord
    eval_slug: str
    judge_slug: str
    judge_hash: str
    keys: dict[str, str]
    base: TaskRun
    run_config: str | None


def plan_evals(ctx: TaskContext) -> None:
    """Evals, judges, new generations and judge results."""
    scored: list[_Scored] = []
    for kiln_eval in ctx.kiln.evals:
        ctx.attempt(kiln_eval.record, _eval, ctx, kiln_eval, scored)
    generations = {}
    samples: Counter[tuple[str, str]] = Counter()
    # Generations in Kiln creation order, so samples of one (input, run config) keep their index on re-import.
    for item in sorted((s for s in scored if s.run_config), key=lambda s: s.rec.sort_key()):
        run = ctx.attempt(item.rec, _generation, ctx, item, samples)
        if run is not None:
            generations[item.rec.id] = ctx.add(run)
    for item in scored:
        if item.run_config and item.rec.id not in generations:
            continue
        run = generations.get(item.rec.id, item.base)
        result = ctx.attempt(item.rec, _result, ctx, item, run)
        if result is not None:
            ctx.add(result)


def _eval(ctx: TaskContext, kiln_eval: KilnEval, scored: list[_Scored]) -> None:
    d = kiln_eval.record.data
    warn = ctx.warner(kiln_eval.record.path)
    scores = []
    for s in d["output_scores"]:
        if s.get("type") == "custom":
            raise Unmappable(f"score {s.get('name')!r} is a custom rating, which kilngit does not have")
        scores.append(
            EvalScore(
                name=score_slug(s["name"]),
                type=s.get("type") or "five_star",
                instruction=s.get("instruction") or s["name"],
            )
        )
    keys = {json_key(s["name"]): score_slug(s["name"]) for s in d["output_scores"]}
    slug = ctx.eval_slugs.take(str(d.get("name") or kiln_eval.record.id), kiln_eval.record.id)
    judge_slugs = SlugAllocator(ctx.existing.of("judges", slug))
    judges: dict[str, tuple[str, Judge]] = {}
    for config in kiln_eval.configs:
        judge = ctx.attempt(config.record, _judge, ctx, config.record)
        if judge is not None:
            judges[config.record.id] = (
                judge_slugs.take(str(config.record.data.get("name") or config.record.id), config.record.id),
                judge,
            )
    test_set = d.get("eval_set_filter_id") or ((d.get("splits") or {}).get("test") or {}).get("filter_id")
    golden = (
        mapping.run_filter(d["eval_configs_filter_id"], warn) if d.get("eval_configs_filter_id") else "rated"
    )
    current = judges.get(str(d.get("current_config_id")))
    if d.get("current_config_id") and current is None:
        warn(f"current eval config {d['current_config_id']} was not imported; the eval has no default judge")
    ev = Eval(
        name=str(d.get("name") or slug),
        description=d.get("description") or None,
        scores=scores,
        eval_set=mapping.run_filter(test_set, warn),
        golden_set=golden,
        default_judge=current[0] if current else None,
        kiln_id=kiln_eval.record.id,
    )
    ctx.define(layout.eval_file(ctx.slug, slug), ev)
    for config in kiln_eval.configs:
        if config.record.id not in judges:
            if config.runs:
                warn(
                    f"{len(config.runs)} eval run(s) of eval config {config.record.id} left out with their config"
                )
            continue
        judge_slug, judge = judges[config.record.id]
        ctx.define(layout.judge_file(ctx.slug, slug, judge_slug), judge)
        hash_ = judge_hash(judge, ev)
        for rec in config.runs:
            item = ctx.attempt(rec, _scored, ctx, rec, slug, judge_slug, hash_, keys)
            if item is not None:
                scored.append(item)


def _judge(ctx: TaskContext, rec: KilnRecord) -> Judge:
    d = rec.data
    props = d.get("properties") or {}
    config_type = d.get("config_type") or "g_eval"
    if config_type in ("llm_as_judge", "g_eval"):
        provider, model, judge_type = d.get("model_provider"), d.get("model_name"), config_type
        steps, description = props.get("eval_steps") or [], props.get("task_description")
    elif config_type == "v2" and props.get("type") == "llm_judge":
        provider, model = props.get("model_provider"), props.get("model_name")
        judge_type = "g_eval" if props.get("g_eval") else "llm_as_judge"
        steps, description = props.get("judge_instructions") or [], props.get("system_prompt")
        ctx.warner(rec.path)(
            "a v2 judge's prompt template is not imported (kilngit builds its own judge prompt)"
        )
    else:
        kind = props.get("type") if config_type == "v2" else config_type
        raise Unmappable(
            f"eval config type {kind!r} has no kilngit equivalent",
            "nothing to do; write a kilngit judge for it by hand",
        )
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise Unmappable("eval_steps is not a list of strings")
    provider, model = mapping.model_ref(str(provider or ""), str(model or ""), ctx.finetune_models)
    return Judge(
        type=judge_type,  # type: ignore[arg-type]
        provider=provider or None,
        model=model or None,
        instructions=mapping.eval_steps_text(description, steps) or None,
        kiln_id=rec.id,
    )


def _scored(
    ctx: TaskContext, rec: KilnRecord, eval_slug: str, judge_slug: str, hash_: str, keys: dict[str, str]
) -> _Scored:
    d = rec.data
    if d.get("eval_input_id") and not d.get("dataset_id"):
        raise Unmappable(
            "eval runs on Kiln eval inputs are not imported (kilngit has no eval inputs)",
            "nothing to do; the eval run stays in Kiln",
        )
    target = str(d.get("scored_run_id") or d.get("dataset_id"))
    base = ctx.runs.get(target)
    if base is None:
        raise Unmappable(
            f"eval run points at task run {target}, which does not exist",
            "restore the task run in Kiln, or delete the eval run",
        )
    unknown = sorted(set(d.get("scores") or {}) - set(keys))
    if unknown:
        raise Unmappable(
            f"scores {', '.join(unknown)} are not scores of the eval (its scores: {', '.join(sorted(keys))})",
            "fix the eval run or the eval in Kiln",
        )
    run_config = None
    if d.get("task_run_config_id") and not d.get("scored_run_id"):
        found = ctx.run_configs.get(str(d["task_run_config_id"]))
        if found is None:
            raise Unmappable(
                f"eval run points at run config {d['task_run_config_id']}, which does not exist",
                "restore the run config in Kiln, or delete the eval run",
            )
        if d.get("output") is None:
            raise Unmappable("eval run of a run config has no output")
        run_config = found[0]
    return _Scored(rec, eval_slug, judge_slug, hash_, keys, base, run_config)


def _generation(ctx: TaskContext, item: _Scored, samples: Counter[tuple[str, str]]) -> TaskRun:
    d = item.rec.data
    assert item.run_config is not None
    _, config = ctx.run_configs[str(d["task_run_config_id"])]
    input_text = text(d["input"]) if d.get("input") is not None else item.base.input
    key = (input_text, item.run_config)
    sample, samples[key] = samples[key], samples[key] + 1
    source = Source(
        type="synthetic",
        provider=config.provider,
        model=config.model,
        prompt=config.prompt,
        run_config=item.run_config,
    )
    return TaskRun(
        task=ctx.slug,
        input=input_text,
        input_source=item.base.input_source,
        output=text(d["output"]),
        output_source=source,
        sample=sample,
        usage=mapping.usage(d.get("task_run_usage")),
        parent=item.base.id,
        kiln_id=item.rec.id,
    ).with_id()  # type: ignore[return-value]


def _result(ctx: TaskContext, item: _Scored, run: TaskRun) -> JudgeResult:
    d = item.rec.data
    intermediate: dict[str, Any] = d.get("intermediate_outputs") or {}
    reasoning, thoughts = intermediate.get("reasoning"), intermediate.get("chain_of_thought")
    skipped = d.get("skipped_reason")
    return JudgeResult(
        task=ctx.slug,
        eval=item.eval_slug,
        judge=item.judge_slug,
        judge_hash=item.judge_hash,
        run=run.id,
        scores={item.keys[k]: float(v) for k, v in sorted((d.get("scores") or {}).items())},
        reasoning=text(reasoning or thoughts) if (reasoning or thoughts) else None,
        explanation=text(thoughts) if reasoning and thoughts else None,
        error=f"skipped in Kiln: {skipped}" if skipped else None,
        usage=mapping.usage(d.get("eval_usage")),
        kiln_id=item.rec.id,
    ).with_id()  # type: ignore[return-value]
