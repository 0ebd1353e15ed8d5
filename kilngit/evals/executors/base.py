"""What an executor is: where code judges' judgements run (this machine's process pool, or a cluster).

    executor = get_executor("ray", address="ray://head:10001")
    runner = executor.code_judge(setup)        # checks trust first; raises before anything runs or is sent
    verdict = await runner.judge(input, output, label, reference)
    executor.close()

Every executor runs the judge's function in the sandbox of the machine that runs it, and only returns
verdicts: the coordinator (the `run eval` process) writes every result, so work left, resuming and the no-op
re-run stay those of `kilngit.evals.runner`.
"""

from __future__ import annotations

from typing import Protocol

from kilngit.evals.judges.base import JudgeSetup, Verdict


class CodeRunner(Protocol):
    """One code judge, ready to judge many runs (`kilngit.evals.judges.code_judge.CodeJudge` locally)."""

    async def judge(
        self, run_input: str, output: str, label: str | None = None, reference: str | None = None
    ) -> Verdict: ...

    async def aclose(self) -> None: ...


class Executor(Protocol):
    """Where code judgements run."""

    name: str

    @property
    def slots(self) -> int:
        """How many code judgements may run at once (the CPU cores it has)."""
        ...

    def code_judge(self, setup: JudgeSetup) -> CodeRunner:
        """A runner for one code judge; raises `UntrustedError` (or another `KilngitError`) before any of the
        project's code runs or leaves this machine."""
        ...

    def close(self) -> None:
        """Release what the executor holds (workers, a connection); code runners are closed before."""
        ...
