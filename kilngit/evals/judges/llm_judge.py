"""LLM-as-judge: ask a model to reason about one output and score it; its reasoning is kept in the result.

Provider failures that are worth retrying later (rate limits, server errors, timeouts) and failures every
further request would repeat (auth, a missing recording) are raised, so the runner leaves the item for the
next run or stops; everything else (a refusal, a malformed or truncated answer, a rejected request) becomes a
result with an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed, verdict_from_scores
from kilngit.evals.judges.judge_prompt import (
    MalformedAnswer,
    parse_answer,
    split_answer,
    system_message,
    user_message,
)
from kilngit.evals.judges.registry import Item, judge_type
from kilngit.providers import get_provider
from kilngit.providers.base import ChatRequest, ChatResponse, Provider, RequestFailed
from kilngit.records import Usage

if TYPE_CHECKING:
    from kilngit.project import Project


async def ask_judge(
    setup: JudgeSetup,
    provider: Provider,
    system: str,
    run_input: str,
    output: str,
    sample: int,
    *,
    logprobs: bool = False,
    extra: str | None = None,
) -> ChatResponse:
    """One call to the judge model. Sample k > 0 sends seed k, so each sample is its own recorded answer.
    `extra` is appended to the user message (a grounded judge's evidence)."""
    judge = setup.judge
    assert judge.model is not None
    request = ChatRequest(
        model=judge.model,
        messages=(
            {"role": "system", "content": system},
            {"role": "user", "content": user_message(run_input, output, extra)},
        ),
        temperature=judge.temperature,
        max_tokens=judge.max_tokens,
        logprobs=logprobs,
        top_logprobs=judge.top_logprobs if logprobs else None,
        seed=sample or None,
    )
    return await provider.complete(request)


def usage_of(response: ChatResponse) -> Usage | None:
    """The usage record of one judge call."""
    tokens = [t for t in (response.input_tokens, response.output_tokens) if t is not None]
    usage = Usage(
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
        total_tokens=sum(tokens) if tokens else None,
        cost=response.cost,
        latency_ms=response.latency_ms,
    )
    return usage if usage.model_dump(exclude_none=True) else None


def answer_problem(response: ChatResponse) -> str | None:
    """Why an answer cannot hold a verdict at all (refused, cut off by the token limit), if it cannot."""
    if response.refusal:
        return f"refused: {response.refusal[:300]}"
    if response.finish_reason == "content_filter":
        return "refused: the provider's content filter stopped the answer"
    return None


def recorded_failure(error: RequestFailed) -> bool:
    """True for provider failures recorded as a result's error; transient and fatal ones are raised."""
    return not (error.transient or error.fatal)


def join_reasoning(model_reasoning: str | None, answer_reasoning: str | None) -> str | None:
    """The model's own reasoning (reasoning models) and the reasoning it wrote in its answer, together."""
    parts = [p.strip() for p in (model_reasoning, answer_reasoning) if p and p.strip()]
    return "\n\n".join(parts) or None


@dataclass(frozen=True)
class JudgeAnswer:
    """A judge model's answer, read: its raw scores, its reasoning, and the call's response and usage."""

    response: ChatResponse
    usage: Usage | None
    reasoning: str | None
    raw_scores: dict[str, Any]


async def read_answer(
    setup: JudgeSetup,
    provider: Provider,
    system: str,
    run_input: str,
    output: str,
    sample: int,
    *,
    logprobs: bool = False,
    extra: str | None = None,
) -> JudgeAnswer | Verdict:
    """Ask the judge and read its JSON answer; a Verdict with an error when there is no answer to read."""
    try:
        response = await ask_judge(
            setup, provider, system, run_input, output, sample, logprobs=logprobs, extra=extra
        )
    except RequestFailed as e:
        if not recorded_failure(e):
            raise
        return failed(f"provider: {e.message}", kind="provider", reason=e.reason)
    usage = usage_of(response)
    problem = answer_problem(response)
    if problem:
        return Verdict(error=problem, usage=usage)
    try:
        data = parse_answer(response.content)
    except MalformedAnswer as e:
        cut = " (the answer was cut off by max_tokens)" if response.finish_reason == "length" else ""
        return Verdict(error=f"malformed: {e}{cut}", usage=usage, reasoning=response.reasoning)
    answer_reasoning, raw = split_answer(data)
    return JudgeAnswer(response, usage, join_reasoning(response.reasoning, answer_reasoning), raw)


def stated_verdict(setup: JudgeSetup, answer: JudgeAnswer) -> Verdict:
    """The verdict an answer states (its own score values)."""
    verdict = verdict_from_scores(answer.raw_scores, setup, reasoning=answer.reasoning, usage=answer.usage)
    if verdict.error:
        verdict.error = f"malformed: {verdict.error}"
    return verdict


async def run_llm_judge(
    setup: JudgeSetup,
    provider: Provider,
    system: str,
    run_input: str,
    output: str,
    sample: int,
    extra: str | None = None,
) -> Verdict:
    """Judge one output with llm_as_judge."""
    answer = await read_answer(setup, provider, system, run_input, output, sample, extra=extra)
    return answer if isinstance(answer, Verdict) else stated_verdict(setup, answer)


@judge_type("llm_as_judge")
class LLMJudge:
    """An LLM judge: its system message and provider, made once; g_eval and grounded judges extend it."""

    note: ClassVar[str | None] = None
    """What the type adds to the system message after the scores."""
    answer = staticmethod(run_llm_judge)
    """How the type asks the model and reads its answer (g_eval weighs it by token probabilities)."""

    def __init__(self, setup: JudgeSetup, project: Project, cache: str | None) -> None:
        assert setup.judge.provider is not None, "LLM judges name a provider (the Judge model checks it)"
        self.setup = setup
        self.system = system_message(setup, self.note)
        self.provider: Provider = get_provider(setup.judge.provider, project, cache=cache)

    async def judge(self, item: Item) -> Verdict:
        return await self.answer(
            self.setup, self.provider, self.system, item.run_input, item.output, item.sample
        )

    async def aclose(self) -> None:
        await self.provider.aclose()
