"""Answering one input with one run config: the call (or the two calls of a two-step chain of thought), the
checks on the answer, and the usage summed over the calls.

Provider failures (after the provider's retries) propagate as `RequestFailed`; everything the model said,
usable or not, comes back as an `Answered`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kilngit.providers.base import ChatResponse, Provider
from kilngit.records import RunError, Usage
from kilngit.runner.answers import check_answer, response_problem, split_one_step
from kilngit.runner.prompts import RunPlan


@dataclass
class Answered:
    """What the model produced for one input and sample."""

    output: str | None = None
    error: RunError | None = None
    reasoning: str | None = None
    intermediate: dict[str, str] = field(default_factory=dict)
    responses: list[ChatResponse] = field(default_factory=list)

    @property
    def usage(self) -> Usage | None:
        """Tokens, cost and latency summed over the calls (None when nothing was reported)."""

        def total(name: str) -> float | None:
            values = [getattr(r, name) for r in self.responses if getattr(r, name) is not None]
            return sum(values) if values else None

        inp, out, cost, latency = (total(n) for n in ("input_tokens", "output_tokens", "cost", "latency_ms"))
        if inp is None and out is None and cost is None and latency is None:
            return None
        both = int(inp) + int(out) if inp is not None and out is not None else None
        return Usage(
            input_tokens=_int(inp),
            output_tokens=_int(out),
            total_tokens=both,
            cost=round(cost, 8) if cost is not None else None,
            latency_ms=round(latency, 1) if latency is not None else None,
        )

    def fail(self, error: RunError, raw: str | None) -> Answered:
        self.error = error
        if raw:
            self.intermediate["raw_output"] = raw
        return self


def _int(value: float | None) -> int | None:
    return int(value) if value is not None else None


async def answer(provider: Provider, plan: RunPlan, input_text: str, sample: int = 0) -> Answered:
    """Ask the model for one input (and sample) as the plan says, and check what it answered."""
    result = Answered()
    response = await provider.complete(plan.first_call(input_text, sample))
    result.responses.append(response)
    style = plan.chain_of_thought
    if style == "two_step":
        problem = response_problem(response, "reasoning step")
        if problem:
            return result.fail(problem, response.content)
        result.reasoning = (response.content or "").strip()
        response = await provider.complete(plan.answer_call(input_text, result.reasoning, sample))
        result.responses.append(response)
    problem = response_problem(response)
    if problem:
        return result.fail(problem, response.content)
    text = response.content or ""
    if style == "one_step":
        reasoning, final = split_one_step(text)
        if final is None:
            return result.fail(
                RunError(
                    type="malformed",
                    message="the answer has no final-answer delimiter line after its reasoning",
                ),
                text,
            )
        result.reasoning, text = reasoning, final
    if response.reasoning:  # the model's own (hidden) reasoning, e.g. reasoning_content
        if result.reasoning is None:
            result.reasoning = response.reasoning.strip()
        else:
            result.intermediate["model_reasoning"] = response.reasoning.strip()
    checked = check_answer(text, plan.task.output_schema if plan.validates_json else None)
    if checked.error:
        return result.fail(checked.error, checked.raw)
    result.output = checked.output
    return result
