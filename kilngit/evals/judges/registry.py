"""Judge types by name: the behaviour behind each entry of the judge-type table.

A type's module registers a factory, called once per judge with `(setup, project, cache)`, that returns
an object judging one `Item` at a time, like providers' `provider_type`:

    @judge_type("regex")                      # a name of kilngit.records.judge_types.JUDGE_TYPES
    class Regex:
        def __init__(self, setup: JudgeSetup, project: Project, cache: str | None) -> None: ...
        async def judge(self, item: Item) -> Verdict: ...
        async def aclose(self) -> None: ...

A type that runs code (`runs_code`) is also given `executor=` when `run eval` names one
(`kilngit.evals.executors`: where its code runs).

Passing a `JudgeTypeSpec` instead of a name declares the type too (a type added at run time, as tests do).
A built-in type's module is imported the first time a judge of that type is prepared, so commands that
validate or list judges never load providers or the sandbox.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from kilngit.errors import KilngitError
from kilngit.evals.judges.base import JudgeSetup, Verdict
from kilngit.evals.truth import Truth
from kilngit.records import JudgeResult
from kilngit.records.judge_types import JUDGE_TYPES, JudgeTypeSpec, declare, undeclare
from kilngit.state import RunState

if TYPE_CHECKING:
    from kilngit.project import Project

__all__ = ["Item", "JudgeFactory", "TypeJudge", "forget_judge_type", "judge_factory", "judge_type"]


@dataclass(frozen=True)
class Item:
    """One judgement to make: a run that has an output, the sample, what humans said of its input, and for
    a grounded judge the evidence results."""

    state: RunState
    sample: int = 0
    truth: Truth = field(default_factory=Truth)
    """The human consensus label and reference answer of the run's input (empty for types calling a model)."""
    evidence: dict[str, JudgeResult] | None = None

    @property
    def run_input(self) -> str:
        return self.state.run.input

    @property
    def output(self) -> str:
        assert self.state.run.output is not None, "runs without an output are not judged"
        return self.state.run.output


class TypeJudge(Protocol):
    """One judge of some type, ready to judge many runs."""

    async def judge(self, item: Item) -> Verdict: ...

    async def aclose(self) -> None: ...


JudgeFactory = Callable[[JudgeSetup, "Project", "str | None"], TypeJudge]
F = TypeVar("F", bound=JudgeFactory)

_FACTORIES: dict[str, JudgeFactory] = {}


def judge_type(*types: str | JudgeTypeSpec) -> Callable[[F], F]:
    """Class or function decorator registering a factory for judge types (names in the table, or specs it
    declares)."""

    def register(factory: F) -> F:
        for entry in types:
            spec = declare(entry) if isinstance(entry, JudgeTypeSpec) else JUDGE_TYPES[entry]
            _FACTORIES[spec.name] = factory
        return factory

    return register


def forget_judge_type(name: str) -> None:
    """Remove a type registered at run time, and its declaration (tests)."""
    _FACTORIES.pop(name, None)
    undeclare(name)


def judge_factory(name: str) -> JudgeFactory:
    """The factory of the judge type `name` (a type of the table: the Judge model checked it)."""
    spec = JUDGE_TYPES[name]
    if name not in _FACTORIES and spec.module:
        importlib.import_module(spec.module)
    factory = _FACTORIES.get(name)
    if factory is None:
        raise KilngitError(
            f"judge type {name!r} is declared but nothing judges with it",
            f"register its factory with kilngit.evals.judges.registry.judge_type({name!r})",
        )
    return factory
