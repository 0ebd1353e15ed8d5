"""Fireworks and Together fine-tuning against loopback fakes of their wire protocols: success (the model is a
run config answering through the provider's OpenAI-compatible endpoint), failure, cancel at the provider,
missing settings, and crashes: nothing is uploaded twice and no second job is started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kilngit import layout
from kilngit.errors import ProviderError, UsageError
from kilngit.finetune.backends import get_backend
from kilngit.finetune.backends.base import PollPolicy
from kilngit.finetune.dispatch import cancel_finetune, start_finetune
from kilngit.finetune.metrics import read_metrics
from kilngit.project import Project
from kilngit.providers.base import ChatRequest
from kilngit.providers.registry import get_provider
from kilngit.testing.fake_fireworks import FakeFireworks
from kilngit.testing.fake_openai import Fault
from kilngit.testing.fake_together import FakeTogether
from kilngit.validate import validate_project
from tests.finetune.helpers import TASK, split_and_finetune

FAST = PollPolicy(interval=0.01, max_interval=0.05, timeout=10, create_retries=2)
KEY = "fw-test-0123456789abcdef"


@dataclass
class Harness:
    """One backend's fake and how to read it."""

    backend: str
    fake: Any
    base_model: str
    uploads: Callable[[], int]
    jobs: Callable[[], list[str]]
    provider_state: Callable[[str], str]
    cancelled: str
    is_create: Callable[[Any], bool]
    fail_next: Callable[[], None]
    long_job: Callable[[], None]


def _fireworks(monkeypatch) -> Iterator[Harness]:
    with FakeFireworks() as fw:
        monkeypatch.setenv("KILNGIT_PROVIDER_FIREWORKS_BASE_URL", fw.inference_url)
        monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
        monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", "acct")
        yield Harness(
            "fireworks",
            fw,
            "accounts/fireworks/models/qwen3-8b",
            lambda: fw.fw.uploads,
            lambda: list(fw.fw.jobs),
            fw.job_state,
            "JOB_STATE_CANCELLED",
            lambda body: isinstance(body, dict) and "baseModel" in body,
            lambda: fw.script_next_states(["JOB_STATE_CREATING", "JOB_STATE_FAILED"]),
            lambda: fw.script_next_states(["JOB_STATE_CREATING"] + ["JOB_STATE_RUNNING"] * 30),
        )


def _together(monkeypatch) -> Iterator[Harness]:
    with FakeTogether() as tg:
        monkeypatch.setenv("KILNGIT_PROVIDER_TOGETHER_BASE_URL", tg.base_url)
        monkeypatch.setenv("TOGETHER_API_KEY", KEY)
        yield Harness(
            "together",
            tg,
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            lambda: tg.uploads,
            lambda: list(tg.jobs),
            tg.job_status,
            "cancelled",
            lambda body: isinstance(body, dict) and "training_file" in body,
            lambda: tg.script_next_statuses(["pending", "error"]),
            lambda: tg.script_next_statuses(["pending"] + ["running"] * 30),
        )


@pytest.fixture(params=["fireworks", "together"])
def h(request, monkeypatch) -> Iterator[Harness]:
    yield from {"fireworks": _fireworks, "together": _together}[request.param](monkeypatch)


def _answer(project: Project, provider: str, model: str) -> str | None:
    async def ask() -> str | None:
        p = get_provider(provider, project, cache="off")
        try:
            r = await p.complete(ChatRequest(model=model, messages=({"role": "user", "content": "ping"},)))
        finally:
            await p.aclose()
        return r.content

    return asyncio.run(ask())


def test_success_run_config_answers_through_the_provider(project: Project, h: Harness):
    split_and_finetune(project, h.backend, base_model=h.base_model, validation_part="test")
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "succeeded" and status.fine_tuned_model and h.uploads() == 2
    assert set(status.provider_file_ids) == {"train", "validation"} and len(h.jobs()) == 1
    config = Project(project.root).run_configs(TASK)["ft-ft"]
    assert (config.provider, config.model) == (h.backend, status.fine_tuned_model)
    assert _answer(project, config.provider, config.model)  # its OpenAI-compatible inference route
    assert start_finetune(project, TASK, "ft", poll=FAST).state == "succeeded"  # a no-op now
    assert h.uploads() == 2 and len(h.jobs()) == 1
    assert validate_project(project.root).ok
    assert KEY not in "".join(p.read_text() for p in project.root.rglob("*.json"))


def test_failure_then_retry_reuses_files(project: Project, h: Harness):
    split_and_finetune(project, h.backend, base_model=h.base_model)
    h.fail_next()
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "failed" and status.error
    retried = start_finetune(project, TASK, "ft", wait=True, retry=True, poll=FAST)
    assert retried.state == "succeeded" and len(h.jobs()) == 2 and h.uploads() == 1


def test_cancel_cancels_at_the_provider(project: Project, h: Harness):
    split_and_finetune(project, h.backend, base_model=h.base_model)
    h.long_job()
    status = start_finetune(project, TASK, "ft", poll=FAST)
    assert cancel_finetune(project, TASK, "ft").state == "cancelled"
    assert h.provider_state(status.provider_job_id) == h.cancelled
    assert start_finetune(project, TASK, "ft", poll=FAST).state == "cancelled" and len(h.jobs()) == 1
    with pytest.raises(UsageError, match="already cancelled"):
        cancel_finetune(project, TASK, "ft")


def test_lost_create_answer_adopts_the_job(project: Project, h: Harness):
    split_and_finetune(project, h.backend, base_model=h.base_model)
    h.fake.fault_fn = lambda i, body: Fault.drop_mid_body() if h.is_create(body) else None
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "succeeded" and len(h.jobs()) == 1 and h.uploads() == 1


def test_upload_whose_answer_was_lost_is_found_again(project: Project, h: Harness):
    """The process died after the upload but before writing the file's ID: the provider has the file."""
    split_and_finetune(project, h.backend, base_model=h.base_model)
    spec = Project(project.root).finetunes(TASK)["ft"]
    api = get_backend(h.backend)._api()  # type: ignore[attr-defined]
    import hashlib

    from kilngit.finetune.examples import finetune_examples
    from kilngit.finetune.export import openai_jsonl

    data = openai_jsonl(finetune_examples(project, TASK, spec, "train").examples)
    api.upload(f"kilngit-{TASK}-ft-train-{hashlib.sha256(data).hexdigest()[:16]}.jsonl", data)
    assert start_finetune(project, TASK, "ft", wait=True, poll=FAST).state == "succeeded"
    assert h.uploads() == 1 and len(h.jobs()) == 1


def test_killed_while_creating_the_job(project: Project, h: Harness):
    """A real crash: the process is killed -9 while the job-creation request hangs."""
    split_and_finetune(project, h.backend, base_model=h.base_model)
    creates = iter([Fault.slow(30)])
    h.fake.fault_fn = lambda i, body: next(creates, None) if h.is_create(body) else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilngit", "-C", str(project.root), "finetune", "start", "ft"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(h.is_create(r.body) for r in h.fake.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(h.is_create(r.body) for r in h.fake.requests)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    status = Project(project.root).finetune_status(TASK, "ft")
    assert status.provider_file_ids.get("train") and status.provider_job_id is None and status.request_token
    done = start_finetune(Project(project.root), TASK, "ft", wait=True, poll=FAST)
    assert done.state == "succeeded" and h.uploads() == 1 and len(h.jobs()) == 1
    assert (project.root / layout.run_config_file(TASK, "ft-ft")).is_file()


def test_missing_key_is_refused_with_the_fix(project: Project, h: Harness, monkeypatch):
    split_and_finetune(project, h.backend, base_model=h.base_model)
    monkeypatch.delenv(f"{h.backend.upper()}_API_KEY")
    with pytest.raises(ProviderError, match=f"{h.backend.upper()}_API_KEY") as e:
        start_finetune(project, TASK, "ft", poll=FAST)
    assert "export" in (e.value.hint or "") and h.uploads() == 0


def test_fireworks_needs_the_account(project: Project, monkeypatch):
    with FakeFireworks() as fw:
        monkeypatch.setenv("KILNGIT_PROVIDER_FIREWORKS_BASE_URL", fw.inference_url)
        monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
        monkeypatch.delenv("FIREWORKS_ACCOUNT_ID", raising=False)
        split_and_finetune(project, "fireworks", base_model="accounts/fireworks/models/qwen3-8b")
        with pytest.raises(ProviderError, match="FIREWORKS_ACCOUNT_ID"):
            start_finetune(project, TASK, "ft", poll=FAST)


def test_together_events_become_step_metrics(project: Project, monkeypatch):
    with FakeTogether() as tg:
        monkeypatch.setenv("KILNGIT_PROVIDER_TOGETHER_BASE_URL", tg.base_url)
        monkeypatch.setenv("TOGETHER_API_KEY", KEY)
        split_and_finetune(project, "together", base_model="m", params={"n_epochs": 2, "suffix": "mine"})
        status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
        assert [m.step for m in read_metrics(project, TASK, "ft")] == [20, 30]
        body = tg.jobs[status.provider_job_id]
        assert body["n_epochs"] == 2 and body["suffix"] == f"mine-kg-{status.request_token[:12]}"
