"""OpenAI fine-tuning jobs with the real `openai` SDK against the loopback fake: success, failure,
cancellation, slow polling, and crashes between upload and job creation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kilngit import layout
from kilngit.errors import ProviderError
from kilngit.finetune.backends.base import PollPolicy
from kilngit.finetune.dispatch import cancel_finetune, finetune_summaries, start_finetune
from kilngit.finetune.metrics import read_metrics
from kilngit.project import Project
from kilngit.testing.fake_openai import FakeOpenAI, Fault, JobScript
from kilngit.validate import validate_project
from tests.finetune.helpers import TASK, split_and_finetune

FAST = PollPolicy(interval=0.01, max_interval=0.05, timeout=10, create_retries=2)
KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def fake(monkeypatch):
    with FakeOpenAI(fault_paths=("/v1/fine_tuning/jobs",)) as srv:
        monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        yield srv


def jobs(fake: FakeOpenAI) -> list[str]:
    return list(fake.fine_tuning.jobs)


def test_success_adds_run_config_and_metrics(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai", validation_part="test", params={"n_epochs": 2, "suffix": "kiln"})
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "succeeded" and status.fine_tuned_model.startswith("ft:gpt-4o-mini:fake-org:kiln:")
    assert set(status.provider_file_ids) == {"train", "validation"} and fake.fine_tuning.upload_count == 2
    body = fake.fine_tuning.jobs[status.provider_job_id].body
    assert body["method"]["supervised"]["hyperparameters"] == {"n_epochs": 2}
    assert body["metadata"] == {"kilngit_request": status.request_token}
    uploaded = fake.fine_tuning.files[status.provider_file_ids["train"]].data.decode().splitlines()
    assert len(uploaded) == 3
    config = Project(project.root).run_configs(TASK)["ft-ft"]
    assert (config.provider, config.model, config.prompt) == ("openai", status.fine_tuned_model, "default")
    assert [(m.step, m.loss) for m in read_metrics(project, TASK, "ft")] == [(1, 1.5), (2, 1.0), (3, 0.5)]
    assert read_metrics(project, TASK, "ft")[0].metrics == {"train_mean_token_accuracy": 0.6}
    assert status.details["trained_tokens"] == 12345
    assert start_finetune(project, TASK, "ft", poll=FAST).state == "succeeded"  # a no-op now
    assert fake.fine_tuning.upload_count == 2 and len(jobs(fake)) == 1
    assert validate_project(project.root).ok
    assert KEY not in "".join(p.read_text() for p in project.root.rglob("*.json"))


def test_failure_then_retry_reuses_files(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai")
    fake.script_next_job(JobScript.failing(code="invalid_training_file", message="Bad line 3."))
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "failed" and status.error == "invalid_training_file: Bad line 3."
    assert start_finetune(project, TASK, "ft", poll=FAST).provider_job_id == status.provider_job_id
    retried = start_finetune(project, TASK, "ft", wait=True, retry=True, poll=FAST)
    assert retried.state == "succeeded" and retried.error is None and len(jobs(fake)) == 2
    assert fake.fine_tuning.upload_count == 1


def test_cancel(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai")
    fake.script_next_job(JobScript(statuses=["queued"] + ["running"] * 20 + ["succeeded"]))
    status = start_finetune(project, TASK, "ft", poll=FAST)
    assert status.state in ("queued", "running")
    assert cancel_finetune(project, TASK, "ft").state == "cancelled"
    assert fake.fine_tuning.job_status(status.provider_job_id) == "cancelled"
    assert start_finetune(project, TASK, "ft", poll=FAST).state == "cancelled"  # no new job without --retry
    assert len(jobs(fake)) == 1


def test_slow_polls_back_off_and_recover(project: Project, fake: FakeOpenAI, monkeypatch):
    monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_TIMEOUT", "0.3")
    split_and_finetune(project, "openai")
    fake.script_next_job(JobScript(statuses=["queued"] + ["running"] * 6 + ["succeeded"]))
    fake.fault_paths = ("/v1/fine_tuning/jobs/ftjob",)  # retrieve and events, not create
    fake.inject(None, None, Fault.slow(1.0), Fault.slow(1.0))  # the first two waiting polls time out
    policy = PollPolicy(interval=0.02, max_interval=1.0, backoff=2.0, timeout=20)
    status = start_finetune(project, TASK, "ft", wait=True, poll=policy)
    assert status.state == "succeeded" and fake.pending_faults == 0
    polls = [r.at for r in fake.requests if r.route == "fine_tuning.jobs.retrieve"]
    gaps = [b - a for a, b in zip(polls, polls[1:], strict=False)]
    assert len(gaps) >= 5 and gaps[-1] > 2 * gaps[0]  # backing off between polls


def test_timeout_leaves_job_running_and_status_refreshes(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai")
    fake.script_next_job(JobScript(statuses=["queued"] + ["running"] * 30 + ["succeeded"]))
    status = start_finetune(project, TASK, "ft", wait=True, poll=PollPolicy(interval=0.01, timeout=0.05))
    assert status.state == "running"
    (summary,) = finetune_summaries(project, TASK)
    assert summary.status.state == "running" and summary.steps >= 1


def test_create_failure_after_upload_never_uploads_twice(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai")
    fake.fault_fn = lambda i, body: Fault.server_error(503) if body and "training_file" in body else None
    with pytest.raises(ProviderError, match="creating the openai fine-tuning job"):
        start_finetune(project, TASK, "ft", poll=FAST)
    status = Project(project.root).finetune_status(TASK, "ft")
    assert status.provider_file_ids["train"] and status.provider_job_id is None and status.request_token
    fake.fault_fn = None
    assert start_finetune(project, TASK, "ft", wait=True, poll=FAST).state == "succeeded"
    assert fake.fine_tuning.upload_count == 1 and len(jobs(fake)) == 1


def test_lost_create_answer_adopts_the_job(project: Project, fake: FakeOpenAI):
    split_and_finetune(project, "openai")
    fake.fault_fn = lambda i, body: Fault.drop_mid_body() if body and "training_file" in body else None
    status = start_finetune(project, TASK, "ft", wait=True, poll=FAST)
    assert status.state == "succeeded" and len(jobs(fake)) == 1


def test_killed_between_upload_and_create(project: Project, fake: FakeOpenAI):
    """A real crash: the process is killed while the job-creation request hangs."""
    split_and_finetune(project, "openai")
    creates = iter([Fault.slow(30)])
    fake.fault_fn = lambda i, body: next(creates, None) if body and "training_file" in body else None
    env = {**os.environ, "KILNGIT_PROVIDER_OPENAI_MAX_RETRIES": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kilngit", "-C", str(project.root), "finetune", "start", "ft"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while fake.counts["fine_tuning.jobs.create"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.counts["fine_tuning.jobs.create"] == 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    status = Project(project.root).finetune_status(TASK, "ft")
    assert (
        status.state == "uploading" and "train" in status.provider_file_ids and status.provider_job_id is None
    )
    done = start_finetune(Project(project.root), TASK, "ft", wait=True, poll=FAST)
    assert done.state == "succeeded" and fake.fine_tuning.upload_count == 1
    assert (project.root / layout.run_config_file(TASK, "ft-ft")).is_file()


def test_upload_whose_answer_was_lost_is_found_again(project: Project, fake: FakeOpenAI):
    """The process died after the upload but before writing the file's ID: the file is found by its name."""
    split_and_finetune(project, "openai")
    fake.fault_paths = ("/v1/files",)
    drops = iter([Fault.drop_mid_body()])  # the upload lands, its answer is lost
    fake.fault_fn = lambda i, body: next(drops, None) if isinstance(body, dict) and "file" in body else None
    with pytest.raises(ProviderError, match="uploading the train file"):
        start_finetune(project, TASK, "ft", poll=FAST)
    assert fake.fine_tuning.upload_count == 1
    assert not Project(project.root).finetune_status(TASK, "ft").provider_file_ids
    assert start_finetune(project, TASK, "ft", wait=True, poll=FAST).state == "succeeded"
    assert fake.fine_tuning.upload_count == 1 and len(jobs(fake)) == 1
