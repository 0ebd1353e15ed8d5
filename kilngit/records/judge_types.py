"""The table of judge types: what the record layer knows of each (its name, the judge fields it needs, whether
it calls a model or runs project code) and the module of `kilngit.evals.judges` that judges with it.

The `Judge` model validates `type` and the fields each type needs against this table, `kilngit schema`
lists its names, `judge new` offers them, and `kilngit.evals.judges.registry` imports a type's module the
first time a judge of that type is prepared. The table sits here, low in the layers, so validating a judge
file never imports the judges themselves (providers, the sandbox); a type's behaviour lives in its module,
which registers it with `kilngit.evals.judges.registry.judge_type`. A type declared at run time (a plugin,
a test) is added with `declare` by that same call.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["JUDGE_TYPES", "JudgeTypeSpec", "declare", "undeclare"]


@dataclass(frozen=True)
class JudgeTypeSpec:
    """One judge type, as judge files and the commands that read them see it."""

    name: str
    module: str | None = None
    """Module that registers the type's behaviour when imported (None: registered by whoever declared it)."""
    needs: tuple[str, ...] = ()
    """Judge fields a judge of this type must set (checked by the `Judge` model, asked by `judge new`)."""
    only: tuple[str, ...] = ()
    """Judge fields that belong to this type alone: a judge of another type may not set them."""
    calls_model: bool = False
    """The type asks a model (it gets a provider, can be sampled, and its requests can be batched)."""
    runs_code: bool = False
    """The type runs project code (it needs trust and the sandbox, and takes a process slot)."""


_JUDGES = "kilngit.evals.judges"
_CHECKS = f"{_JUDGES}.checks"
_LLM = ("model", "provider")

#: Judge types by name: the built-in ones, then any declared at run time.
JUDGE_TYPES: dict[str, JudgeTypeSpec] = {
    spec.name: spec
    for spec in (
        JudgeTypeSpec("llm_as_judge", f"{_JUDGES}.llm_judge", _LLM, calls_model=True),
        JudgeTypeSpec("g_eval", f"{_JUDGES}.g_eval", _LLM, calls_model=True),
        JudgeTypeSpec("code", f"{_JUDGES}.code_judge", ("function",), runs_code=True),
        JudgeTypeSpec("regex", _CHECKS, ("score", "pattern")),
        JudgeTypeSpec("contains", _CHECKS, ("score", "pattern")),
        JudgeTypeSpec("not_contains", _CHECKS, ("score", "pattern")),
        JudgeTypeSpec("exact_match", _CHECKS, ("score",)),
        JudgeTypeSpec("valid_json", _CHECKS, ("score",)),
        JudgeTypeSpec("matches_schema", _CHECKS, ("score",)),
        JudgeTypeSpec(
            "grounded",
            f"{_JUDGES}.grounded",
            (*_LLM, "evidence"),
            only=("evidence", "evidence_parts", "scoring"),
            calls_model=True,
        ),
    )
}


def declare(spec: JudgeTypeSpec) -> JudgeTypeSpec:
    """Add a judge type to the table (declaring the same spec twice changes nothing)."""
    if JUDGE_TYPES.get(spec.name, spec) != spec:
        raise ValueError(f"judge type {spec.name!r} is already declared differently")
    JUDGE_TYPES[spec.name] = spec
    return spec


def undeclare(name: str) -> None:
    """Remove a judge type declared at run time (tests)."""
    if JUDGE_TYPES.get(name, JudgeTypeSpec(name)).module is None:
        JUDGE_TYPES.pop(name, None)
