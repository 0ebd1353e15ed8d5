"""The local executor: code judgements in sandboxed worker processes of this machine, one per CPU core."""

from __future__ import annotations

import os

from kilngit.evals.judges.base import JudgeSetup
from kilngit.evals.judges.code_judge import CodeJudge


class LocalExecutor:
    """This machine's process pool (`CodeJudge`)."""

    name = "local"

    @property
    def slots(self) -> int:
        return os.cpu_count() or 1

    def code_judge(self, setup: JudgeSetup) -> CodeJudge:
        return CodeJudge(setup)

    def close(self) -> None:
        pass


def create(address: str | None = None) -> LocalExecutor:
    return LocalExecutor()
