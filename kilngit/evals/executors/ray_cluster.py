"""The Ray executor (`run eval --executor ray`): code judgements on the CPUs of a Ray cluster.

The coordinator (the `run eval` process) checks trust, takes the project's trusted code by value
(`bundle.code_bundle`) and puts it once in Ray's object store; each judgement is one call to a `JudgeSlot`
actor (`ray_worker.py`, one per CPU, started as needed up to the cluster's CPUs), which runs it in the worker's
own sandbox and answers the same message a local worker would. The verdict, and so every result file, is made
and written here. Address: `--ray-address`, else `$RAY_ADDRESS` (Ray's own convention), else a local Ray
instance started for this command.

Failures of the cluster, never tracebacks: Ray missing or the cluster unreachable is an `ExecutorError` before
any work; a worker that cannot run the sandbox or kilngit (another version, not installed) stops the eval
with what to install; a worker that dies mid-judgement leaves that judgement not recorded (a re-run retries
it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from importlib.metadata import version
from typing import Any

from kilngit.errors import KilngitError
from kilngit.evals.executors.bundle import code_bundle
from kilngit.evals.executors.ray_worker import JudgeSlot
from kilngit.evals.judges.base import JudgeSetup, Verdict
from kilngit.evals.judges.code_judge import judge_request, verdict_from_answer
from kilngit.providers.base import RequestFailed
from kilngit.sandbox import unsandboxed

try:
    import ray
    import ray.exceptions
except ImportError:  # an optional extra: the error says how to install it
    ray = None  # type: ignore[assignment]

CONNECT_S = 10.0
HANG_S = 120.0  # beyond a judgement's own time limit: guards a hang of the cluster only
#: One judgement at a time per slot, on one CPU; a dead slot is replaced by a new one, not restarted.
SLOT_OPTIONS: dict[str, Any] = {"num_cpus": 1, "max_concurrency": 1, "max_restarts": 0}
WORKER_HINT = (
    "install bubblewrap, ffmpeg (for the example's judge) and this kilngit version on every Ray worker"
)


class ExecutorError(KilngitError):
    """The cluster cannot be used: Ray missing, the cluster unreachable or without CPUs."""


class RayExecutor:
    """Code judgements on a Ray cluster; `close` ends its actors (and the local Ray it started, if any)."""

    name = "ray"

    def __init__(self, address: str | None = None, runtime_env: dict[str, Any] | None = None) -> None:
        """`runtime_env`: Ray's runtime environment of the slots (e.g. `{"env_vars": {"KILNGIT_FFMPEG":
        "/opt/ffmpeg"}}`), for the Python API."""
        if ray is None:
            raise ExecutorError(
                "--executor ray needs Ray, which is not installed", "pip install 'kilngit[ray]'"
            )
        given = address or os.environ.get("RAY_ADDRESS")
        where = given or "a new local Ray instance"
        self.slot_class: Any = ray.remote(**SLOT_OPTIONS)(JudgeSlot)
        self.sandboxed = not unsandboxed()  # the user's opt-out holds on the workers too
        self.version = version("kilngit")
        self.runtime_env = runtime_env
        self.idle: list[Any] = []
        self.slots_made: list[Any] = []
        self.bundles: dict[str, Any] = {}
        self.started = not ray.is_initialized()
        if self.started:
            _check_reachable(given)
            local: dict[str, Any] = {} if given else {"include_dashboard": False}
            try:
                ray.init(
                    address=address,
                    log_to_driver=False,  # the judges' output is captured by their sandboxes
                    logging_level=logging.WARNING,
                    **local,
                )
            except (ConnectionError, RuntimeError, ValueError, TimeoutError, ray.exceptions.RayError) as e:
                raise ExecutorError(
                    f"cannot connect to the Ray cluster at {where}: {e}",
                    "start one (`ray start --head`) or set --ray-address / RAY_ADDRESS to its address (and "
                    "RAY_AUTH_TOKEN when it requires a token)",
                ) from None
        self._slots = int(ray.cluster_resources().get("CPU", 0))
        if self._slots < 1:
            self.close()
            raise ExecutorError(f"the Ray cluster at {where} has no CPUs", "add workers to the cluster")

    @property
    def slots(self) -> int:
        return self._slots

    def code_judge(self, setup: JudgeSetup) -> RayCodeJudge:
        bundle = code_bundle(setup.root, f"code judge {setup.judge_slug} ({setup.judge.function})")
        digest = bundle.digest
        if digest not in self.bundles:
            self.bundles[digest] = ray.put(bundle)
        return RayCodeJudge(self, setup, digest)

    async def take(self) -> Any:
        """An idle slot, or a new one once it said it can judge here."""
        if self.idle:
            return self.idle.pop()
        slot = self.slot_class.options(runtime_env=self.runtime_env).remote()
        self.slots_made.append(slot)
        try:
            problem = _unfit(await slot.hello.remote(), self.version, self.sandboxed)
        except ray.exceptions.RayError as e:
            problem = (f"a Ray worker could not start kilngit's judge slot: {_first_line(e)}", WORKER_HINT)
        if problem:
            self.drop(slot)  # its CPU goes back to the cluster
            raise RequestFailed(problem[0], "config", problem[1])
        return slot

    def drop(self, slot: Any) -> None:
        """Kill a slot (and with it every sandbox it started); it is not reused."""
        self.slots_made.remove(slot)
        with contextlib.suppress(Exception):
            ray.kill(slot)

    def close(self) -> None:
        if self.slots_made:
            with contextlib.suppress(Exception):  # slots that do not answer are killed below
                ray.get([s.close.remote() for s in self.slots_made], timeout=30)
        for slot in list(self.slots_made):
            self.drop(slot)
        self.idle = []
        if self.started:
            ray.shutdown()


class RayCodeJudge:
    """One code judge whose judgements run in the cluster's slots."""

    def __init__(self, executor: RayExecutor, setup: JudgeSetup, digest: str) -> None:
        self.executor, self.setup, self.digest = executor, setup, digest

    async def judge(
        self, run_input: str, output: str, label: str | None = None, reference: str | None = None
    ) -> Verdict:
        ex, judge = self.executor, self.setup.judge
        request = judge_request(self.setup, run_input, output, label, reference)
        slot = await ex.take()
        call = slot.judge.remote(
            self.digest, [ex.bundles[self.digest]], ex.sandboxed, judge.timeout_s, request
        )
        try:
            message = await asyncio.wait_for(call, judge.timeout_s + HANG_S)
        except TimeoutError:
            ex.drop(slot)
            raise RequestFailed(
                f"{judge.function}: the Ray worker gave no answer within {judge.timeout_s + HANG_S:g}s",
                "timeout",
            ) from None
        except ray.exceptions.RayError as e:  # the worker died, or its node
            ex.drop(slot)
            raise RequestFailed(
                f"{judge.function}: the Ray worker judging it failed: {_first_line(e)}", "connection"
            ) from None
        except BaseException:  # cancelled (Ctrl-C): the judgement in flight ends with its slot
            ex.drop(slot)
            raise
        ex.idle.append(slot)
        return verdict_from_answer(self.setup, message)

    async def aclose(self) -> None:
        pass  # the slots are the executor's, shared by every code judge of the run


def create(address: str | None = None) -> RayExecutor:
    return RayExecutor(address)


def _check_reachable(address: str | None) -> None:
    """Fail at once when nothing listens at a `HOST:PORT` (or `ray://HOST:PORT`) address: Ray itself keeps
    retrying an unreachable cluster for minutes."""
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # none, `auto` or `local`: Ray finds or starts the instance itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_S).close()
    except OSError as e:
        raise ExecutorError(
            f"cannot connect to the Ray cluster at {address}: {e.strerror or e}",
            "start one (`ray start --head`) or set --ray-address / RAY_ADDRESS to its head's address",
        ) from None


def _unfit(hello: dict[str, Any], version: str, sandboxed: bool) -> tuple[str, str] | None:
    """Why a slot cannot judge (message, hint), from its `hello`; None when it can."""
    if hello["kilngit"] != version:
        return (
            f"the Ray worker on {hello['host']} has kilngit {hello['kilngit']}, this machine {version}",
            f"install kilngit {version} on every Ray worker",
        )
    if sandboxed and hello["sandbox_problem"]:
        return (
            f"the Ray worker on {hello['host']} cannot run code judges in the sandbox: {hello['sandbox_problem']}",
            f"{WORKER_HINT}, or pass --unsandboxed to run them there as plain processes",
        )
    return None


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__
