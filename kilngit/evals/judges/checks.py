"""Simple checks: deterministic judges that set one pass/fail score from the run's output text.

    regex         the pattern is found (re.search)
    contains      the text occurs in the output
    not_contains  the text does not occur in the output
    exact_match   the output equals the pattern, or (no pattern) the human reference answer of the input, else
                  its repaired output, else its consensus label; surrounding whitespace ignored. On a label
                  score it reads the class the output names instead (compared with the humans' class later)
    valid_json    the output parses as JSON
    matches_schema  the output parses as JSON and matches the task's output_schema

`case_sensitive: false` makes regex, contains, not_contains and exact_match ignore case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed
from kilngit.evals.judges.registry import Item, judge_type
from kilngit.evals.labels import NO_CLASS, read_label, score_classes
from kilngit.records import EvalScore
from kilngit.runner.json_check import schema_errors

if TYPE_CHECKING:
    from kilngit.project import Project


def run_check(setup: JudgeSetup, output: str, reference: str | None = None) -> Verdict:
    """Judge one output with a simple check. `reference` is the expected output for exact_match."""
    judge = setup.judge
    assert judge.score is not None, "simple checks name their score (enforced by the Judge model)"
    score = setup.eval.score(judge.score)
    if score is not None and score.type == "label":
        return _read_class(setup, score, output)
    check = _CHECKS[judge.type]
    try:
        passed, why = check(setup, output, reference)
    except _NoVerdict as e:
        return failed(str(e))
    if score is None:
        return failed(f"the eval has no score {judge.score!r}")
    top, fail = (5.0, 1.0) if score.type == "five_star" else (1.0, 0.0)
    return Verdict(scores={judge.score: top if passed else fail}, explanation=why)


def _read_class(setup: JudgeSetup, score: EvalScore, output: str) -> Verdict:
    """A label score: the class the output names (exact_match; the other checks cannot give a class)."""
    if setup.judge.type != "exact_match":
        return failed(
            f"a {setup.judge.type} check cannot set label score {score.name!r}; use exact_match or code"
        )
    classes = score_classes(score, setup.task)
    label = read_label(output, classes) or NO_CLASS
    why = f"the output names class {label!r}" if label != NO_CLASS else "the output names none of the classes"
    return Verdict(labels={score.name: label}, explanation=why)


class _NoVerdict(Exception):
    """The check cannot be applied (bad pattern, nothing to compare with)."""


def _flags(setup: JudgeSetup) -> int:
    return 0 if setup.judge.case_sensitive else re.IGNORECASE


def _fold(setup: JudgeSetup, text: str) -> str:
    return text if setup.judge.case_sensitive else text.casefold()


def _regex(setup: JudgeSetup, output: str, _ref: str | None) -> tuple[bool, str]:
    pattern = setup.judge.pattern or ""
    try:
        match = re.search(pattern, output, _flags(setup))
    except re.error as e:
        raise _NoVerdict(f"invalid regex {pattern!r}: {e}") from None
    if match:
        return True, f"matches /{pattern}/ at {match.start()}: {match.group(0)[:80]!r}"
    return False, f"does not match /{pattern}/"


def _contains(setup: JudgeSetup, output: str, _ref: str | None) -> tuple[bool, str]:
    text = setup.judge.pattern or ""
    found = _fold(setup, text) in _fold(setup, output)
    return found, f"{'contains' if found else 'does not contain'} {text!r}"


def _not_contains(setup: JudgeSetup, output: str, ref: str | None) -> tuple[bool, str]:
    found, why = _contains(setup, output, ref)
    return not found, why


def _exact(setup: JudgeSetup, output: str, ref: str | None) -> tuple[bool, str]:
    expected = setup.judge.pattern if setup.judge.pattern is not None else ref
    if expected is None:
        raise _NoVerdict(
            "exact_match has no pattern, and the input has no reference answer, repaired output or "
            "label to compare with"
        )
    same = _fold(setup, output.strip()) == _fold(setup, expected.strip())
    return (
        same,
        "equals the expected output" if same else f"differs from the expected output {expected[:80]!r}",
    )


def _valid_json(setup: JudgeSetup, output: str, _ref: str | None) -> tuple[bool, str]:
    try:
        json.loads(output)
    except ValueError as e:
        return False, f"not valid JSON: {e}"
    return True, "valid JSON"


def _matches_schema(setup: JudgeSetup, output: str, _ref: str | None) -> tuple[bool, str]:
    schema = setup.task.output_schema
    if schema is None:
        raise _NoVerdict("matches_schema needs the task's output_schema, and the task has none")
    try:
        value = json.loads(output)
    except ValueError as e:
        return False, f"not valid JSON: {e}"
    problems = schema_errors(value, schema)
    return not problems, "; ".join(problems[:5]) if problems else "matches the task's output schema"


_CHECKS: dict[str, Callable[[JudgeSetup, str, str | None], tuple[bool, str]]] = {
    "regex": _regex,
    "contains": _contains,
    "not_contains": _not_contains,
    "exact_match": _exact,
    "valid_json": _valid_json,
    "matches_schema": _matches_schema,
}


@judge_type(*_CHECKS)
class Check:
    """A simple check, compared with the input's reference answer, else the run's repaired output, else the
    humans' label."""

    def __init__(self, setup: JudgeSetup, project: Project, cache: str | None) -> None:
        self.setup = setup

    async def judge(self, item: Item) -> Verdict:
        truth = item.truth
        return run_check(
            self.setup, item.output, truth.reference or item.state.repaired_output or truth.label
        )

    async def aclose(self) -> None:
        pass
