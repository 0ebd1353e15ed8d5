"""What every judge shares: the setup it judges with, the verdict it returns, and turning raw answers into
valid eval scores.

A judge never raises for a bad answer: a crash, a timeout or a malformed answer becomes a `Verdict` with an
`error`, which the runner records as a `JudgeResult` without scores (never as a zero score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kilngit.evals.labels import read_label, score_classes
from kilngit.leaks import scrub
from kilngit.ratings import NAMED_VALUES, allowed_values
from kilngit.records import Eval, Judge, JudgeResult, Task, TaskRun, Usage
from kilngit.records.evals import judge_hash

#: Words judges (people or models) use for pass/fail values, lowercased.
VALUE_WORDS: dict[str, float] = {**NAMED_VALUES, "passed": 1.0, "failed": 0.0}


@dataclass(frozen=True)
class JudgeSetup:
    """One judge of one eval, ready to judge runs."""

    root: Path
    """Project root (code judges import from it, knowledge files are read from it)."""
    task_slug: str
    task: Task
    eval_slug: str
    eval: Eval
    judge_slug: str
    judge: Judge
    judges: dict[str, Judge] = field(default_factory=dict)
    """All judges of the eval by slug (a grounded judge's hash and evidence read them)."""

    @property
    def hash(self) -> str:
        return judge_hash(self.judge, self.eval, self.judges)

    @property
    def scores(self) -> list:
        """The eval scores this judge sets: the one of a simple check, else all of them."""
        if self.judge.score:
            return [s for s in self.eval.scores if s.name == self.judge.score]
        return list(self.eval.scores)


@dataclass
class Verdict:
    """What a judge said about one run: scores, or an error saying why there are none."""

    scores: dict[str, float] = field(default_factory=dict)
    explanation: str | None = None
    reasoning: str | None = None
    error: str | None = None
    details: dict[str, Any] | None = None
    usage: Usage | None = None
    labels: dict[str, str] = field(default_factory=dict)
    """The class given for each label score."""

    def to_result(self, setup: JudgeSetup, run: TaskRun, sample: int) -> JudgeResult:
        """The content-addressed record of this verdict (errors keep no scores), without any of this machine's
        secrets (a judge may have copied an API key into its explanation, or a crash log shown one)."""
        text = scrub(
            {
                "labels": {} if self.error else self.labels,
                "explanation": self.explanation,
                "reasoning": self.reasoning,
                "error": self.error,
                "details": self.details or None,
            }
        )
        return JudgeResult(
            task=setup.task_slug,
            eval=setup.eval_slug,
            judge=setup.judge_slug,
            judge_hash=setup.hash,
            run=run.id,
            sample=sample,
            scores={} if self.error else self.scores,
            usage=self.usage,
            **text,
        ).with_id()  # type: ignore[return-value]


def failed(message: str, **details: Any) -> Verdict:
    """A verdict without scores."""
    return Verdict(error=message, details=details or None)


def parse_score_value(value: Any, rating_type: str) -> float | None:
    """A score value as a float on the rating type's scale, or None when it is not one.

    Accepts numbers in range, numeric strings ("4", "4.5"), and the words pass / fail / critical (case and
    surrounding quotes ignored). Booleans count as pass (true) / fail (false) for pass/fail types.
    """
    allowed = allowed_values(rating_type)
    if isinstance(value, bool):
        number: float | None = 1.0 if value else 0.0
        if rating_type == "five_star":
            return None
    elif isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().strip("\"'").strip().lower()
        number = VALUE_WORDS.get(text)
        if number is None:
            try:
                number = float(text)
            except ValueError:
                return None
    else:
        return None
    if number is None or not math.isfinite(number) or not allowed[0] <= number <= allowed[-1]:
        return None
    return number


def clean_scores(raw: Any, setup: JudgeSetup) -> tuple[dict[str, float], list[str], dict[str, Any]]:
    """Split a judge's raw `{name: value}` into (valid eval scores, problems, values for unknown names).

    Names the eval does not have are kept aside (e.g. a code judge's extra diagnostics); a known name with
    an invalid value is a problem.
    """
    if not isinstance(raw, dict):
        return {}, [f"scores must be an object of name -> value, got {type(raw).__name__}"], {}
    wanted = {s.name: s for s in setup.scores}
    scores: dict[str, float] = {}
    problems: list[str] = []
    extra: dict[str, Any] = {}
    for name, value in raw.items():
        score = wanted.get(str(name))
        if score is None:
            extra[str(name)] = value
            continue
        number = parse_score_value(value, score.type)
        if number is None:
            allowed = ", ".join(f"{v:g}" for v in allowed_values(score.type))
            problems.append(f"score {name!r} = {value!r} is not a {score.type} value ({allowed})")
        else:
            scores[score.name] = number
    return scores, problems, extra


def verdict_from_scores(
    raw: Any,
    setup: JudgeSetup,
    explanation: str | None = None,
    reasoning: str | None = None,
    details: dict[str, Any] | None = None,
    usage: Usage | None = None,
) -> Verdict:
    """A verdict from raw scores: an error when a value is invalid or no eval score was given. Label scores
    take a class name (one of the score's classes)."""
    labels, label_problems = {}, []
    if isinstance(raw, dict):
        raw = dict(raw)
        for score in [s for s in setup.scores if s.type == "label" and s.name in raw]:
            classes = score_classes(score, setup.task)
            value = raw.pop(score.name)
            label = read_label(value, classes)
            if label is None:
                label_problems.append(
                    f"score {score.name!r} = {value!r} is not one of its classes ({', '.join(classes)})"
                )
            else:
                labels[score.name] = label
    scores, problems, extra = clean_scores(raw, setup)
    problems = label_problems + problems
    details = dict(details or {})
    if extra:
        details["other_scores"] = extra
    if problems:
        return Verdict(
            error="; ".join(problems),
            explanation=explanation,
            reasoning=reasoning,
            details=details or None,
            usage=usage,
        )
    if not scores and not labels:
        names = ", ".join(s.name for s in setup.scores)
        return Verdict(
            error=f"the judge gave none of the eval's scores ({names})",
            explanation=explanation,
            reasoning=reasoning,
            details=details or None,
            usage=usage,
        )
    return Verdict(scores, explanation, reasoning, None, details or None, usage, labels)
