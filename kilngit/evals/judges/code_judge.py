"""Code judges: a Python function of the project (`module:function`), run in sandboxed worker processes with a
time limit.

The function is called as `function(task: dict, input: str, output: str)` and returns
`{"scores": {name: value}, "explanation": str}` (optionally "reasoning" and "details"; a plain
`{name: value}` dict is read as the scores). It runs in a separate Python process (the interpreter running
kilngit, isolated with `-I`) inside the sandbox (`kilngit.sandbox`: no network, no secrets, project read-only,
limits) with the project root first on sys.path and as the working folder, through `code_pool.CodePool`
(workers reused for many runs). Crashes and timeouts become results with an error, never scores.

`judge_request` and `verdict_from_answer` are the two ends of one judgement, shared with the executors that
run the function elsewhere (`kilngit.evals.executors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kilngit.evals.judges.base import JudgeSetup, Verdict, failed, verdict_from_scores
from kilngit.evals.judges.code_pool import CodePool
from kilngit.evals.judges.registry import Item, judge_type
from kilngit.sandbox import Limits, require_sandbox
from kilngit.trust import require_trusted

if TYPE_CHECKING:
    from kilngit.evals.executors.base import CodeRunner, Executor
    from kilngit.project import Project


class CodeJudge:
    """Runs one code judge's function for many runs in this machine's sandbox, reusing idle workers."""

    def __init__(self, setup: JudgeSetup, limits: Limits | None = None) -> None:
        self.setup = setup
        what = f"code judge {setup.judge_slug} ({setup.judge.function})"
        require_trusted(setup.root, what)
        self.pool = CodePool(setup.root, sandboxed=require_sandbox(what), limits=limits)

    async def judge(
        self, run_input: str, output: str, label: str | None = None, reference: str | None = None
    ) -> Verdict:
        """Call the function on one (input, output) within the judge's `timeout_s`; a function that takes
        `label` / `reference` parameters also gets the human consensus label and reference answer."""
        request = judge_request(self.setup, run_input, output, label, reference)
        return verdict_from_answer(self.setup, await self.pool.call(request, self.setup.judge.timeout_s))

    async def aclose(self) -> None:
        await self.pool.aclose()


@judge_type("code")
class CodeType:
    """The `code` judge type: a `CodeJudge` (or the `executor`'s runner) given the humans' label and reference
    of each input."""

    def __init__(
        self, setup: JudgeSetup, project: Project, cache: str | None, executor: Executor | None = None
    ) -> None:
        self.code: CodeRunner = executor.code_judge(setup) if executor else CodeJudge(setup)

    async def judge(self, item: Item) -> Verdict:
        return await self.code.judge(item.run_input, item.output, item.truth.label, item.truth.reference)

    async def aclose(self) -> None:
        await self.code.aclose()


def judge_request(
    setup: JudgeSetup, run_input: str, output: str, label: str | None, reference: str | None
) -> dict[str, Any]:
    """What the worker needs to judge one run, all of it plain JSON (it is shipped by value)."""
    return {
        "function": setup.judge.function,
        "task": setup.task.to_data(),
        "input": run_input,
        "output": output,
        "label": label,
        "reference": reference,
    }


def verdict_from_answer(setup: JudgeSetup, message: dict[str, Any]) -> Verdict:
    """The verdict of a `CodePool.call` message."""
    if "failed" in message:
        return failed(str(message["failed"]), kind=str(message.get("kind", "crash")))
    if "error" in message:
        return failed(f"crash: {message['error']}", kind="exception")
    return _from_answer(setup, message.get("answer"))


def _from_answer(setup: JudgeSetup, answer: Any) -> Verdict:
    if not isinstance(answer, dict):
        return failed(
            f"malformed: {setup.judge.function} returned {type(answer).__name__}, expected a dict "
            "with scores and explanation",
            kind="malformed",
        )
    if "scores" not in answer:
        answer = {"scores": answer}
    details = answer.get("details") if isinstance(answer.get("details"), dict) else None
    explanation, reasoning = answer.get("explanation"), answer.get("reasoning")
    verdict = verdict_from_scores(answer["scores"], setup, _text(explanation), _text(reasoning), details)
    if verdict.error:
        verdict.error = f"malformed: {verdict.error}"
    return verdict


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
