"""Judges: each judge type turns one run's (input, output) into a `Verdict`.

    judge = PreparedJudge.prepare(project, task, eval_slug, judge_slug, cache="replay")
    verdict = await judge.judge(state, sample=0)
    await judge.aclose()

Types are declared in the table `kilngit.records.judge_types.JUDGE_TYPES` (name, fields, module) and
registered by their modules (`registry.judge_type`): `llm_as_judge` (llm_judge.py), `g_eval` (g_eval.py),
`grounded` (grounded.py: an LLM judge that also reads other judges' results), `code` (code_judge.py) and the
simple checks (checks.py). Every verdict becomes a `JudgeResult` keyed by (judge definition hash, run,
sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed
from kilngit.evals.judges.registry import Item, TypeJudge, judge_factory, judge_type
from kilngit.evals.truth import Truth, human_truth
from kilngit.project import Project
from kilngit.providers.base import Provider
from kilngit.records import JudgeResult
from kilngit.records.judge_types import JUDGE_TYPES, JudgeTypeSpec
from kilngit.state import RunState

if TYPE_CHECKING:  # executors build on the judges; only the type is needed here
    from kilngit.evals.executors.base import Executor

__all__ = ["Item", "JudgeSetup", "JudgeTypeSpec", "PreparedJudge", "Verdict", "judge_setup", "judge_type"]


def judge_setup(project: Project, task: str, eval_slug: str, judge_slug: str) -> JudgeSetup:
    """The setup of one judge (the eval and judge must exist; callers resolve names first)."""
    judges = project.judges(task, eval_slug)
    return JudgeSetup(
        project.root,
        task,
        project.task(task),
        eval_slug,
        project.evals(task)[eval_slug],
        judge_slug,
        judges[judge_slug],
        dict(judges),
    )


@dataclass
class PreparedJudge:
    """A judge ready to judge many runs: its setup and its type's judge (`registry.judge_type`)."""

    setup: JudgeSetup
    impl: TypeJudge
    truth: dict[str, Truth] = field(default_factory=dict)
    """Input -> the human consensus label and reference, given to types that call no model."""

    @classmethod
    def prepare(
        cls,
        project: Project,
        task: str,
        eval_slug: str,
        judge_slug: str,
        cache: str | None = None,
        executor: Executor | None = None,
    ) -> PreparedJudge:
        """Resolve everything a judge needs once (provider, knowledge file, trust) so errors surface before
        any work. A type that runs code runs it on `executor` (default: this machine's process pool)."""
        setup = judge_setup(project, task, eval_slug, judge_slug)
        spec = JUDGE_TYPES[setup.judge.type]
        factory: Any = judge_factory(setup.judge.type)
        extra = {"executor": executor} if spec.runs_code and executor is not None else {}
        impl = factory(setup, project, cache, **extra)
        return cls(setup, impl, {} if spec.calls_model else human_truth(project, task))

    async def judge(
        self, state: RunState, sample: int = 0, evidence: dict[str, JudgeResult] | None = None
    ) -> Verdict:
        """Judge one run (which must have an output); a grounded judge needs the `evidence` results
        (`grounded.pick_evidence`)."""
        if state.run.output is None:
            return failed("the run has no output to judge")
        truth = self.truth.get(state.run.input, Truth())
        return await self.impl.judge(Item(state, sample, truth, evidence))

    @property
    def grounded(self) -> bool:
        """True for judges that read other judges' results (they are judged after those)."""
        return bool(self.setup.judge.evidence)

    @property
    def sampled(self) -> bool:
        """True when samples can differ (LLM judges); deterministic judges are judged once per run."""
        return JUDGE_TYPES[self.setup.judge.type].calls_model

    @property
    def runs_code(self) -> bool:
        """True for judges that run project code in a process of their own."""
        return JUDGE_TYPES[self.setup.judge.type].runs_code

    @property
    def provider(self) -> Provider | None:
        """The model provider of a type that calls a model (a batch pass swaps it for a collector)."""
        return getattr(self.impl, "provider", None)

    @provider.setter
    def provider(self, provider: Provider) -> None:
        self.impl.provider = provider  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        await self.impl.aclose()
