"""The batch engine: one tally, one stop rule for failures every request would repeat, one outcome -> error
mapping (Interrupted 130, the fatal failure, WorkLeft)."""

import asyncio

import pytest

from kilngit.errors import EXIT_INTERRUPTED, Interrupted, WorkLeft
from kilngit.providers.base import RequestFailed
from kilngit.runner.batch import Outcome, Tally, run_batch, run_sync


class Summary(Tally, Outcome):
    def work_left(self):
        return f"{sum(self.not_recorded.values())} left" if self.not_recorded else None


def test_transient_failures_are_counted_and_a_fatal_one_stops_the_batch():
    summary, seen = Summary(), []

    async def work(item):
        seen.append(item)
        if item == 1:
            raise RequestFailed("slow down", "rate_limited")
        if item == 3:
            raise RequestFailed("bad key", "auth")
        summary.done += 1

    asyncio.run(
        run_batch(
            list(range(10)),
            work,
            outcome=summary,
            tally=lambda _: summary,
            concurrency=1,
            label="t",
            progress=False,
        )
    )
    assert seen == [0, 1, 2, 3] and summary.done == 2
    assert summary.not_recorded == {"rate_limited": 1, "auth": 1} and summary.examples["auth"] == ["bad key"]
    with pytest.raises(RequestFailed, match="bad key"):
        summary.check()
    summary.fatal = None
    with pytest.raises(WorkLeft, match="2 left"):
        summary.check()


def test_ctrl_c_marks_the_outcome_interrupted():
    async def interrupted():
        raise KeyboardInterrupt

    summary = run_sync(interrupted(), Summary())
    assert summary.interrupted
    with pytest.raises(Interrupted) as e:
        summary.check()
    assert e.value.exit_code == EXIT_INTERRUPTED
