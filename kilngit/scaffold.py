"""Writing new definitions from the command line: prompts, run configs, evals, judges, a task's schemas.

Each file is written as commented YAML: every field set is preceded by its description (from the record
model), and the optional fields left out are listed, commented out, at the end, so a person editing the file
sees what else they can set. The record is validated before anything is written, and an existing file is
never overwritten.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from kilngit import layout
from kilngit._io import atomic_write, dump_yaml
from kilngit.errors import KilngitError, NotFoundError, UsageError, did_you_mean
from kilngit.evals.results import find_eval
from kilngit.project import Project, definition_data, schema_header
from kilngit.records import Eval, EvalScore, Judge, Prompt, RunConfig, Task, is_slug
from kilngit.records.base import Definition
from kilngit.records.field_docs import field_description
from kilngit.records.judge_types import JUDGE_TYPES
from kilngit.runner.json_check import schema_errors

__all__ = ["commented_yaml", "new_config", "new_eval", "new_judge", "new_prompt", "set_schema"]


def commented_yaml(record: Definition, relpath: str) -> bytes:
    """The record as YAML with each field's description above it and the unset fields listed at the end."""
    data = definition_data(record)
    model = type(record)
    fields = model.model_fields
    out = [schema_header(record.kind, relpath).rstrip("\n")]
    doc = type(record).__doc__
    if doc:
        out.append(f"# {doc.strip().splitlines()[0]}")
    for key, value in data.items():
        desc = field_description(model, key) if key in fields else None
        if desc and key not in ("kind", "v"):
            out += ["#", *_comment(desc)]
        out.append(dump_yaml({key: value}).decode().rstrip("\n"))
    unset = [k for k in fields if k not in data and k != "kiln_id"]
    if unset:
        out += ["#", "# Other fields you may set:"]
        for key in unset:
            out += _comment(
                f"{key}: {field_description(model, key) or '(see docs/format.md)'}", indent="#   "
            )
    return ("\n".join(out) + "\n").encode()


def _comment(text: str, indent: str = "# ") -> list[str]:
    flat = " ".join(text.split())
    return [indent + line for line in textwrap.wrap(flat, 110 - len(indent))]


def _write_new(project: Project, relpath: str, record: Definition) -> Path:
    project.require_writable()
    path = project.root / relpath
    if path.exists():
        raise KilngitError(f"{relpath} already exists", "edit it, or pick another name")
    atomic_write(path, commented_yaml(record, relpath))
    project._cache.clear()  # as write_definition does: definitions are few, re-reading them is cheap
    return path


def _slug(kind: str, slug: str) -> str:
    if not is_slug(slug):
        raise UsageError(f"{slug!r} is not a valid {kind} name", "use lowercase letters, digits, '-' and '_'")
    return slug


def _build(record_type: type[Definition], what: str, **fields: Any) -> Any:
    try:
        return record_type(**{k: v for k, v in fields.items() if v is not None})
    except ValueError as e:
        errors = getattr(e, "errors", None)
        first = errors()[0] if callable(errors) else {"msg": str(e), "loc": ()}
        where = ".".join(str(x) for x in first.get("loc", ()))
        raise UsageError(
            f"invalid {what}: {where + ': ' if where else ''}"
            f"{str(first['msg']).removeprefix('Value error, ')}",
            "see --help",
        ) from None


def new_prompt(
    project: Project,
    task: str | None,
    slug: str,
    *,
    system: str | None = None,
    chain_of_thought: bool = False,
    few_shot: int | None = None,
    description: str | None = None,
) -> Path:
    """Write `tasks/TASK/prompts/SLUG.yaml`."""
    task = project.task_slug(task)
    prompt = _build(
        Prompt,
        "prompt",
        system=system,
        chain_of_thought=chain_of_thought or None,
        few_shot={"count": few_shot} if few_shot else None,
        description=description,
    )
    return _write_new(project, layout.prompt_file(task, _slug("prompt", slug)), prompt)


def new_config(
    project: Project,
    task: str | None,
    slug: str,
    *,
    provider: str,
    model: str,
    prompt: str = "default",
    temperature: float | None = None,
    max_tokens: int | None = None,
    description: str | None = None,
) -> Path:
    """Write `tasks/TASK/run_configs/SLUG.yaml` (its prompt must exist)."""
    task = project.task_slug(task)
    prompts = project.prompts(task)
    if prompt not in prompts:
        raise NotFoundError(
            f"task {task!r} has no prompt {prompt!r}",
            f"{did_you_mean(prompt, prompts)}prompts: {', '.join(prompts) or 'none'}",
        )
    config = _build(
        RunConfig,
        "run config",
        provider=provider,
        model=model,
        prompt=prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        description=description,
    )
    return _write_new(project, layout.run_config_file(task, _slug("run config", slug)), config)


def parse_score(spec: str) -> dict[str, Any]:
    """`NAME[:TYPE]=INSTRUCTION` as given to `eval new --score`."""
    head, sep, instruction = spec.partition("=")
    name, _, rating_type = head.partition(":")
    if not sep or not name.strip() or not instruction.strip():
        raise UsageError(
            f"cannot read score {spec!r}", "write NAME[:TYPE]=INSTRUCTION, e.g. correct=It does it"
        )
    return {
        "name": name.strip(),
        "type": rating_type.strip() or "pass_fail",
        "instruction": instruction.strip(),
    }


def new_eval(
    project: Project,
    task: str | None,
    slug: str,
    scores: list[dict[str, Any]],
    *,
    eval_set: str | None = None,
    golden_set: str | None = None,
    name: str | None = None,
    description: str | None = None,
) -> Path:
    """Write `tasks/TASK/evals/SLUG/eval.yaml`. Without scores, one pass/fail score per requirement (or one
    overall score when the task has none)."""
    task = project.task_slug(task)
    definition = project.task(task)
    if not scores:
        scores = [
            {"name": r.name, "type": r.type, "instruction": r.instruction} for r in definition.requirements
        ] or [
            {
                "name": "overall",
                "type": definition.rating_type or "pass_fail",
                "human_rating": "overall",
                "instruction": "The output does what the task asks.",
            }
        ]
    for s in scores:
        if definition.requirement(s["name"]) is None and "human_rating" not in s:
            s["human_rating"] = "overall"
    for text in (eval_set, golden_set):
        if text:
            project.run_filter(task, text)
    ev = _build(
        Eval,
        "eval",
        name=name or slug,
        description=description,
        scores=[EvalScore(**s) for s in scores],
        eval_set=eval_set,
        golden_set=golden_set,
    )
    return _write_new(project, layout.eval_file(task, _slug("eval", slug)), ev)


def new_judge(
    project: Project, task: str | None, eval_slug: str, slug: str, judge_type: str, **fields: Any
) -> Path:
    """Write `tasks/TASK/evals/EVAL/judges/SLUG.yaml`; the eval's first judge becomes its default judge."""
    task = project.task_slug(task)
    ev = find_eval(project, task, eval_slug)
    if judge_type not in JUDGE_TYPES:
        raise UsageError(
            f"unknown judge type {judge_type!r}",
            f"{did_you_mean(judge_type, JUDGE_TYPES)}types: {', '.join(JUDGE_TYPES)}",
        )
    missing = [f for f in JUDGE_TYPES[judge_type].needs if not fields.get(f)]
    if "score" in missing and len(ev.scores) == 1:
        fields["score"] = ev.scores[0].name
        missing.remove("score")
    if missing:
        raise UsageError(
            f"a {judge_type} judge needs " + ", ".join(f"--{m.replace('_', '-')}" for m in missing)
        )
    if fields.get("score") and ev.score(fields["score"]) is None:
        names = [s.name for s in ev.scores]
        raise UsageError(
            f"eval {eval_slug!r} has no score {fields['score']!r}",
            f"{did_you_mean(fields['score'], names)}scores: {', '.join(names)}",
        )
    judge = _build(Judge, "judge", type=judge_type, **fields)
    path = _write_new(project, layout.judge_file(task, eval_slug, _slug("judge", slug)), judge)
    if ev.default_judge is None:
        project.write_definition(
            layout.eval_file(task, eval_slug), ev.model_copy(update={"default_judge": slug})
        )
    return path


def set_schema(
    project: Project,
    task: str | None,
    *,
    output: str | None = None,
    input: str | None = None,
    clear_output: bool = False,
    clear_input: bool = False,
) -> Path:
    """Set (or clear) a task's output and input JSON Schemas, each given as JSON text or a file path."""
    task = project.task_slug(task)
    definition = project.task(task)
    update: dict[str, Any] = {}
    for field, value, clear in (
        ("output_schema", output, clear_output),
        ("input_schema", input, clear_input),
    ):
        if clear:
            update[field] = None
        elif value is not None:
            update[field] = _schema_value(value, field)
    if not update:
        raise UsageError("nothing to set", "give --output SCHEMA and/or --input SCHEMA (JSON text or a file)")
    fields = {**definition.model_dump(), **update}
    try:
        new = Task(**fields)
    except ValueError as e:
        raise UsageError(f"invalid task: {e}") from None
    return project.write_definition(layout.task_file(task), new)


def _schema_value(value: str, field: str) -> dict[str, Any]:
    text = (
        Path(value).read_text(encoding="utf-8")
        if not value.lstrip().startswith("{") and Path(value).is_file()
        else value
    )
    try:
        schema = json.loads(text)
    except ValueError as e:
        raise UsageError(
            f"the {field} is not valid JSON: {e}", "give JSON text or a path to a .json file"
        ) from None
    if not isinstance(schema, dict):
        raise UsageError(f"the {field} must be a JSON object (a JSON Schema)")

    try:
        schema_errors(None, schema)
    except Exception as e:  # noqa: BLE001  (any failure here means the schema itself is unusable)
        raise UsageError(f"the {field} is not a usable JSON Schema: {e}") from None
    return schema
