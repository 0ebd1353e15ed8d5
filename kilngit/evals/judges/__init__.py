"""Judges: each judge type turns one run's (input, output) into a `Verdict`.

    judge = PreparedJudge.prepare(project, task, eval_slug, judge_slug, cache="replay")
    verdict = await judge.judge(state, sample=0)
    await judge.aclose()

Types: `llm_as_judge` (llm_judge.py), `g_eval` (g_eval.py), `grounded` (grounded.py: an LLM judge that also
reads other judges' results), `code` (code_judge.py) and the simple checks (checks.py). Every verdict becomes a `JudgeResult` keyed by (judge definition hash, run, sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed
from kilngit.evals.judges.checks import run_check
from kilngit.evals.judges.code_judge import CodeJudge
from kilngit.evals.judges.g_eval import run_g_eval
from kilngit.evals.judges.grounded import run_grounded
from kilngit.evals.judges.judge_prompt import system_message
from kilngit.evals.judges.llm_judge import run_llm_judge
from kilngit.evals.truth import Truth, human_truth
from kilngit.project import Project
from kilngit.providers.base import Provider
from kilngit.records import JudgeResult
from kilngit.records.evals import SIMPLE_CHECKS
from kilngit.state import RunState

#: Judge types that call a model (they get a provider and a system message, and can be sampled).
LLM_TYPES = ("llm_as_judge", "g_eval", "grounded")

__all__ = ["LLM_TYPES", "JudgeSetup", "PreparedJudge", "Verdict", "judge_setup"]


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
    """A judge ready to judge many runs: its setup, and for LLM judges the provider and system message."""

    setup: JudgeSetup
    provider: Provider | None = None
    system: str | None = None
    code: CodeJudge | None = None
    truth: dict[str, Truth] = field(default_factory=dict)
    """Input -> the human consensus label and reference, given to exact_match and code judges."""

    @classmethod
    def prepare(
        cls, project: Project, task: str, eval_slug: str, judge_slug: str, cache: str | None = None
    ) -> PreparedJudge:
        """Resolve everything a judge needs once (provider, knowledge file) so errors surface before any work."""
        setup = judge_setup(project, task, eval_slug, judge_slug)
        if setup.judge.type == "code":
            return cls(setup, code=CodeJudge(setup), truth=human_truth(project, task))
        if setup.judge.type not in LLM_TYPES:
            return cls(setup, truth=human_truth(project, task))
        from kilngit.providers import get_provider

        assert setup.judge.provider is not None
        return cls(setup, get_provider(setup.judge.provider, project, cache=cache), system_message(setup))

    async def judge(
        self, state: RunState, sample: int = 0, evidence: dict[str, JudgeResult] | None = None
    ) -> Verdict:
        """Judge one run (which must have an output); a grounded judge needs the `evidence` results
        (`grounded.pick_evidence`)."""
        run, kind = state.run, self.setup.judge.type
        if run.output is None:
            return failed("the run has no output to judge")
        truth = self.truth.get(run.input, Truth())
        if kind in SIMPLE_CHECKS:
            return run_check(self.setup, run.output, truth.reference or state.repaired_output or truth.label)
        if self.code is not None:
            return await self.code.judge(run.input, run.output, truth.label, truth.reference)
        assert self.provider is not None and self.system is not None
        if kind == "grounded":
            if evidence is None:
                return failed("a grounded judge needs its evidence results")
            return await run_grounded(
                self.setup, self.provider, self.system, run.input, run.output, sample, evidence
            )
        if kind == "g_eval":
            return await run_g_eval(self.setup, self.provider, self.system, run.input, run.output, sample)
        return await run_llm_judge(self.setup, self.provider, self.system, run.input, run.output, sample)

    @property
    def grounded(self) -> bool:
        """True for judges that read other judges' results (they are judged after those)."""
        return bool(self.setup.judge.evidence)

    @property
    def sampled(self) -> bool:
        """True when samples can differ (LLM judges); deterministic judges are judged once per run."""
        return self.setup.judge.type in LLM_TYPES

    async def aclose(self) -> None:
        if self.provider is not None:
            await self.provider.aclose()
        if self.code is not None:
            await self.code.aclose()
