"""Evals, the judges that score them, and judge results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kilngit.errors import did_you_mean
from kilngit.records.base import SLUG_PATTERN, Definition, MachineRecord
from kilngit.records.canonical import content_id
from kilngit.records.common import ProjectPath, RatingType, Strict, Usage
from kilngit.records.judge_types import JUDGE_TYPES


def _list_judge_types(schema: dict[str, Any]) -> None:
    """The JSON Schema of `Judge.type`: the names in the judge-type table when the schema is made."""
    schema["enum"] = list(JUDGE_TYPES)


class EvalScore(Strict):
    """One score an eval measures."""

    name: str = Field(pattern=SLUG_PATTERN)
    type: RatingType = "pass_fail"
    labels: list[str] = []
    """For type label: the classes a judge chooses from (default: those of the human rating it is compared
    with)."""
    instruction: str
    """What the score measures, as a judge (or a person) should read it."""
    human_rating: str | None = None
    """Which human rating it is compared with: "overall" or a requirement name (default: the requirement of
    the same name if the task has one, else overall)."""


class AlignmentGate(Strict):
    """Minimum agreement with humans a judge needs before `eval check` trusts it."""

    metric: Literal["kendall_tau", "spearman", "pearson", "accuracy", "cohen_kappa"] = "kendall_tau"
    min: float = Field(ge=-1, le=1)
    min_items: int = Field(default=5, ge=1)
    """Fewer golden items than this and the gate refuses the judge."""


class Eval(Definition):
    """What to measure (scores), on which runs (eval set), checked against which human labels (golden set)."""

    kind: Literal["eval"] = "eval"
    name: str
    description: str | None = None
    scores: list[EvalScore] = Field(min_length=1)
    eval_set: str = "tag::eval_set"
    """Run filter choosing the items to judge."""
    golden_set: str = "tag::golden"
    """Run filter choosing the human-rated items judges are calibrated against."""
    default_judge: str | None = None
    """Slug of the judge whose scores count (under this eval's judges/)."""
    thresholds: dict[str, float] = {}
    """Per score: the minimum mean normalized (0..1) score for `eval check` to pass."""
    alignment_gate: AlignmentGate | None = None
    auto_run: bool = False
    """Let `kilngit watch` run this eval whenever its results are missing."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _known_scores(self) -> Eval:
        names = [s.name for s in self.scores]
        if len(names) != len(set(names)):
            raise ValueError("score names must be unique")
        unknown = sorted(set(self.thresholds) - set(names))
        if unknown:
            raise ValueError(f"thresholds name unknown scores: {', '.join(unknown)}")
        return self

    def score(self, name: str) -> EvalScore | None:
        """The score called `name`, if any."""
        return next((s for s in self.scores if s.name == name), None)


class JudgeExample(Strict):
    """A worked example shown to an LLM judge (e.g. a known failure)."""

    input: str
    output: str
    scores: dict[str, float | Literal["pass", "fail", "critical"]]
    """Score name -> value: pass, fail, critical, or a number (1..5 for five stars)."""
    explanation: str | None = None

    @model_validator(mode="after")
    def _words(self) -> JudgeExample:
        words = {"pass": 1.0, "fail": 0.0, "critical": -1.0}
        self.scores = {k: words[v] if isinstance(v, str) else v for k, v in self.scores.items()}
        return self


class Judge(Definition):
    """How to score runs for an eval: an LLM, a G-Eval, project code, or a simple check."""

    kind: Literal["judge"] = "judge"
    type: str = Field(json_schema_extra=_list_judge_types)
    """The judge type, a name of the judge-type table (kilngit.records.judge_types; docs/evals.md)."""
    description: str | None = None
    # LLM judges (llm_as_judge, g_eval)
    provider: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    instructions: str | None = None
    """Extra instructions for the judge, added to the task description and the eval's scores."""
    knowledge: str | None = None
    """Extra knowledge given to the judge (e.g. an excerpt of a man page)."""
    knowledge_file: ProjectPath | None = None
    """Path, relative to the project root, of a text file given to the judge as knowledge."""
    examples: list[JudgeExample] = []
    top_logprobs: int = Field(default=10, ge=1, le=20)
    """g_eval: how many alternatives per token to weigh."""
    # grounded judges (an LLM judge that also reads other judges' results for the same run)
    evidence: list[str] | None = None
    """grounded: slugs of judges of the same eval whose current result for the run (scores, explanation,
    details) is put in the prompt as evidence, e.g. an execution judge's."""
    evidence_parts: list[Literal["scores", "explanation", "details"]] | None = None
    """grounded: which parts of each evidence result the prompt carries (default all three). Recorded answers
    replay only when the prompt is the same, so leave out parts that differ between machines (timings,
    tool versions) when the judge must replay everywhere."""
    scoring: Literal["llm_as_judge", "g_eval"] | None = None
    """grounded: how the answer is scored: its own values (llm_as_judge, the default) or weighted by token
    probabilities (g_eval)."""
    # code judges
    function: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """code: `module:function` importable from the project root."""
    timeout_s: float = Field(default=30, gt=0, le=3600)
    # simple checks
    score: str | None = None
    """Simple checks: the eval score this check sets (1 pass / 0 fail)."""
    pattern: str | None = None
    """regex / contains / not_contains / exact_match: the pattern or text to look for."""
    case_sensitive: bool = True
    kiln_id: str | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in JUDGE_TYPES:
            known = ", ".join(JUDGE_TYPES)
            raise ValueError(
                f"unknown judge type {value!r}; {did_you_mean(value, JUDGE_TYPES)}types: {known}"
            )
        return value

    @model_validator(mode="after")
    def _fields_for_type(self) -> Judge:
        spec = JUDGE_TYPES[self.type]
        missing = [f for f in spec.needs if getattr(self, f) in (None, "", [])]
        if missing:
            raise ValueError(f"a {self.type} judge needs {', '.join(missing)}")
        for other in JUDGE_TYPES.values():
            foreign = [f for f in other.only if f not in spec.only and getattr(self, f) is not None]
            if foreign:
                verb = "is" if len(foreign) == 1 else "are"
                raise ValueError(f"{', '.join(foreign)} {verb} for {other.name} judges (type: {other.name})")
        if self.evidence and len(set(self.evidence)) != len(self.evidence):
            raise ValueError("evidence names a judge twice")
        return self


class JudgeResult(MachineRecord):
    """The scores one judge (at one definition hash) gave one run, for one sample."""

    kind: Literal["judge_result"] = "judge_result"
    task: str
    eval: str
    judge: str
    judge_hash: str
    """Hash of the judge definition and its eval's scores when judged: a different hash means stale."""
    run: str
    sample: int = Field(default=0, ge=0)
    scores: dict[str, float] = {}
    labels: dict[str, str] = {}
    """The class a judge chose for each label score."""
    explanation: str | None = None
    reasoning: str | None = None
    error: str | None = None
    """Why the judge produced no scores (crash, timeout, malformed answer); such results are not scores."""
    details: dict[str, Any] | None = None
    """Judge-specific details, e.g. G-Eval's per-score probabilities or why it fell back."""
    usage: Usage | None = None
    kiln_id: str | None = None


def judge_hash(judge: Judge, ev: Eval, judges: dict[str, Judge] | None = None) -> str:
    """Hash of what a judge's results depend on: its definition and its eval's scores, and for a grounded
    judge the hashes of its evidence judges (`judges`: the eval's judges by slug), so a grounded result goes
    stale when either definition changes. Results carrying another hash are stale."""
    data: dict[str, Any] = {
        "judge": judge.to_data(),
        "scores": [s.model_dump(mode="json", exclude_none=True) for s in ev.scores],
    }
    if judge.evidence:
        judges = judges or {}
        data["evidence"] = {
            slug: judge_hash(judges[slug], ev) if slug in judges and not judges[slug].evidence else "missing"
            for slug in judge.evidence
        }
    return content_id(data)
