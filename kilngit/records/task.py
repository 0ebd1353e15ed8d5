"""Task definitions and what is needed to run them: prompts and run configs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from kilngit.records.base import SLUG_PATTERN, Definition
from kilngit.records.canonical import content_id
from kilngit.records.common import RatingType, Strict


class Requirement(Strict):
    """Something every good output must satisfy, rated by people and judges."""

    name: str = Field(pattern=SLUG_PATTERN)
    """Slug naming the requirement; annotations and eval scores refer to it."""
    instruction: str
    """What the requirement asks, as a rater should read it."""
    type: RatingType = "pass_fail"
    labels: list[str] = []
    """For type label: the classes a rater may choose (at least two)."""
    priority: int = Field(default=1, ge=0, le=3)
    """0 (highest) to 3 (lowest), as in Kiln."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _labels(self) -> Requirement:
        check_labels(self.type, self.labels, f"requirement {self.name!r}")
        return self


def check_labels(rating_type: str | None, labels: list[str], what: str) -> None:
    """Label ratings need at least two distinct classes; other types take none."""
    if rating_type == "label":
        if len(labels) < 2 or len(set(labels)) != len(labels) or not all(x.strip() for x in labels):
            raise ValueError(
                f"{what} is rated by label: give labels, at least two distinct non-empty classes"
            )
    elif labels:
        raise ValueError(f"{what} has labels but is rated {rating_type or 'by any type'}; set type: label")


class Task(Definition):
    """One LLM task: its instruction, optional input/output JSON schemas and its requirements."""

    kind: Literal["task"] = "task"
    name: str
    """Human name of the task."""
    description: str | None = None
    instruction: str
    """The instruction every prompt starts from."""
    thinking_instruction: str | None = None
    """Instruction for chain-of-thought prompts ("think step by step about ...")."""
    input_schema: dict[str, Any] | None = None
    """JSON Schema of structured inputs; inputs are plain text when absent."""
    output_schema: dict[str, Any] | None = None
    """JSON Schema of structured outputs; outputs are plain text when absent."""
    requirements: list[Requirement] = []
    rating_type: RatingType | None = None
    """The type of every overall rating of this task's runs (a rating of another type is refused); when
    absent, raters may use any type (and raters who use different types are a dispute)."""
    labels: list[str] = []
    """For rating_type label: the classes of the overall rating (e.g. billing, bug, feature_request, other)."""
    kiln_id: str | None = None

    @model_validator(mode="after")
    def _unique_requirements(self) -> Task:
        check_labels(self.rating_type, self.labels, "the overall rating")
        names = [r.name for r in self.requirements]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"requirement names must be unique; repeated: {', '.join(dupes)}")
        return self

    def requirement(self, name: str) -> Requirement | None:
        """The requirement called `name`, if any."""
        return next((r for r in self.requirements if r.name == name), None)

    def rating_scale(self, name: str) -> tuple[str | None, list[str]]:
        """(rating type, classes) of "overall" or a requirement; type None means any type is accepted."""
        if name == "overall":
            return self.rating_type, self.labels
        req = self.requirement(name)
        return (req.type, req.labels) if req else (None, [])

    def rating_problem(
        self, name: str, rating_type: str, label: str | None = None
    ) -> tuple[str, str, str] | None:
        """Why a rating of "overall" or a requirement does not fit this task, as (problem, fix, field: type or
        label); None when it fits."""
        expected, labels = self.rating_scale(name)
        what = "the overall rating" if name == "overall" else f"requirement {name!r}"
        if expected is not None and expected != rating_type:
            return f"{what} is rated {expected}, not {rating_type}", f"rate it as {expected}", "type"
        if rating_type == "label" and label not in labels:
            return (
                f"{label!r} is not a class of {what}",
                f"use one of: {', '.join(labels)}" if labels else f"declare the classes of {what} (labels)",
                "label",
            )
        return None


class FewShot(Strict):
    """Examples drawn from highly rated runs and shown in the prompt."""

    count: int = Field(default=4, ge=1, le=500)
    """How many examples (a few-shot prompt uses a handful, a many-shot prompt hundreds)."""
    filter: str = "human_rating>=pass"
    """Which runs may serve as examples (a run filter)."""


class Prompt(Definition):
    """How to build the messages for a task: instruction overrides, examples, chain of thought."""

    kind: Literal["prompt"] = "prompt"
    description: str | None = None
    system: str | None = None
    """System message; defaults to the task's instruction."""
    include_requirements: bool = True
    """List the task's requirements in the system message."""
    few_shot: FewShot | None = None
    chain_of_thought: bool = False
    """Ask the model to think first and keep that reasoning in the run."""
    chain_of_thought_style: Literal["two_step", "one_step"] = "two_step"
    """two_step: one call to think, a second for the answer; one_step: one call, reasoning and answer split
    at a delimiter line (cheaper, less reliable)."""
    thinking_instruction: str | None = None
    """Overrides the task's thinking instruction for chain-of-thought prompts."""
    kiln_id: str | None = None


class RunConfig(Definition):
    """A way of running a task: provider, model, prompt and sampling parameters."""

    kind: Literal["run_config"] = "run_config"
    description: str | None = None
    provider: str
    """Provider name, resolved from the user's config or environment (never a key or URL with a secret)."""
    model: str
    """Model name as the provider knows it (e.g. gpt-4o-mini, llama3.1:8b, tinker://...)."""
    prompt: str = Field(pattern=SLUG_PATTERN)
    """Slug of the prompt definition under this task's prompts/."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    structured_output: Literal["auto", "json_schema", "json_mode", "json_instructions", "none"] = "auto"
    """How to ask for the task's output schema; auto picks json_schema where the endpoint supports it."""
    kiln_id: str | None = None


def run_config_hash(task: Task, prompt: Prompt, run_config: RunConfig) -> str:
    """Hash of what a run config's answers depend on: the run config, its prompt, and the task fields the prompt
    is built from. Runs carry it, so runs made before an edit are told apart (and re-made on resume).
    Few-shot examples are not part of it: they change as ratings come in."""
    return content_id(
        {
            "run_config": run_config.to_data(),
            "prompt": prompt.to_data(),
            "task": task.model_dump(
                mode="json",
                include={"instruction", "thinking_instruction", "output_schema", "requirements"},
                exclude_none=True,
            ),
        }
    )
