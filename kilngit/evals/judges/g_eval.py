"""G-Eval: the judge's scores weighted by its token probabilities (Liu et al. 2023, as Kiln implements it).

The judge answers like llm_as_judge, with logprobs requested. For each score, the answer's text is rebuilt from
its tokens, the score's JSON key located (`"name":`, the last occurrence, since the reasoning comes first),
and the first token after it that spells a rating ("pass", "fail", "critical", "1".."5"; a token that is
the unique start of one of the words counts) is the rating token. The score is then the probability-weighted
mean of the ratings among that position's top alternatives (the chosen token included):

    score = sum(value(t) * exp(logprob(t))) / sum(exp(logprob(t)))   over alternatives t that are ratings

So a judge 70% sure of "pass" and 30% of "fail" scores 0.7. When the endpoint returns no logprobs, or a
score's rating token cannot be found, the score is the answer's own value and `details.fallback` records why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from kilngit.evals.judges.base import JudgeSetup, Verdict
from kilngit.evals.judges.llm_judge import LLMJudge, read_answer, stated_verdict
from kilngit.evals.judges.registry import judge_type
from kilngit.providers.base import Provider, TokenLogprob
from kilngit.ratings import PASS_FAIL_LABELS, named_values
from kilngit.records import EvalScore

NO_LOGPROBS = "the endpoint returned no logprobs; scores are the answer's own values"
NO_TOKEN = "no rating token for this score in the logprobs; the answer's own value is used"
_STRIP = " \t\r\n\"':,{}"


@dataclass(frozen=True)
class WeightedScore:
    value: float
    probabilities: dict[str, float]
    """Rating label -> probability among the rating alternatives (sums to 1)."""


async def run_g_eval(
    setup: JudgeSetup,
    provider: Provider,
    system: str,
    run_input: str,
    output: str,
    sample: int,
    extra: str | None = None,
) -> Verdict:
    """Judge one output with G-Eval (`extra`: more of the user message, a grounded judge's evidence)."""
    answer = await read_answer(setup, provider, system, run_input, output, sample, logprobs=True, extra=extra)
    if isinstance(answer, Verdict):
        return answer
    stated = stated_verdict(setup, answer)
    if stated.error:
        return stated
    reasoning, usage, logprobs = answer.reasoning, answer.usage, answer.response.logprobs
    details: dict[str, Any] = dict(stated.details or {})
    if not logprobs:
        details.update(method="fallback", fallback={name: NO_LOGPROBS for name in stated.scores})
        return Verdict(stated.scores, reasoning=reasoning, details=details, usage=usage, labels=stated.labels)
    weighted = weighted_scores(logprobs, [s for s in setup.scores if s.name in stated.scores])
    scores, probabilities, fallback = {}, {}, {}
    for name, value in stated.scores.items():
        if name in weighted:
            scores[name] = weighted[name].value
            probabilities[name] = weighted[name].probabilities
        else:
            scores[name] = value
            fallback[name] = NO_TOKEN
    details.update(method="g_eval" if not fallback else "partial_fallback", probabilities=probabilities)
    if fallback:
        details["fallback"] = fallback
    return Verdict(scores, reasoning=reasoning, details=details, usage=usage, labels=stated.labels)


@judge_type("g_eval")
class GEval(LLMJudge):
    """The `g_eval` judge type: an LLM judge whose scores are weighted by token probabilities."""

    answer = staticmethod(run_g_eval)


def weighted_scores(tokens: tuple[TokenLogprob, ...], scores: list[EvalScore]) -> dict[str, WeightedScore]:
    """The probability-weighted value of each score whose rating token is found."""
    text = "".join(t.token for t in tokens)
    ends, position = [], 0
    for token in tokens:
        position += len(token.token)
        ends.append(position)
    keys: dict[str, tuple[int, int]] = {}
    for score in scores:
        matches = list(re.finditer(rf'"{re.escape(score.name)}"\s*:', text))
        if matches:
            keys[score.name] = (matches[-1].start(), matches[-1].end())
    out = {}
    for score in scores:
        if score.name not in keys:
            continue
        key_start, key_end = keys[score.name]
        stop = min([start for start, _ in keys.values() if start > key_start] + [len(text)])
        for index, token in enumerate(tokens):
            start = ends[index] - len(token.token)
            if ends[index] <= key_end or start >= stop:
                continue
            if rating_value(token.token, score.type) is not None:
                out[score.name] = _weigh(token, score.type)
                break
    return out


def rating_value(token: str, rating_type: str) -> float | None:
    """The rating a token spells for this rating type, or None."""
    word = token.strip(_STRIP).lower()
    if not word:
        return None
    if rating_type == "five_star":
        return float(word) if word in ("1", "2", "3", "4", "5") else None
    words = named_values(rating_type)
    if word in words:
        return words[word]
    starts = [value for name, value in words.items() if name.startswith(word)]
    return starts[0] if len(starts) == 1 else None


def _weigh(token: TokenLogprob, rating_type: str) -> WeightedScore:
    alternatives = list(token.top)
    if all(alt != token.token for alt, _ in alternatives):
        alternatives.append((token.token, token.logprob))
    mass: dict[float, float] = {}
    for alt, logprob in alternatives:
        value = rating_value(alt, rating_type)
        if value is not None and logprob > -1000:  # some endpoints send -9999 for "unknown"
            mass[value] = mass.get(value, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:  # only the chosen token, with an unusable logprob
        value = rating_value(token.token, rating_type)
        assert value is not None
        return WeightedScore(value, {_label(value, rating_type): 1.0})
    weighted = sum(v * p for v, p in mass.items()) / total
    return WeightedScore(
        weighted, {_label(v, rating_type): round(p / total, 6) for v, p in sorted(mass.items())}
    )


def _label(value: float, rating_type: str) -> str:
    return f"{value:g}" if rating_type == "five_star" else PASS_FAIL_LABELS[value]
