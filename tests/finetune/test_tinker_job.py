"""Tinker fine-tuning with the real `tinker` SDK against the loopback fake: train, publish a sampler run
config the tinker provider can sample, resume after a crash, cancel."""

from __future__ import annotations

import asyncio

import pytest

tinker = pytest.importorskip("tinker")

from kilngit.errors import ProviderError  # noqa: E402
from kilngit.finetune.dispatch import cancel_finetune, start_finetune  # noqa: E402
from kilngit.finetune.jobs import get_finetune  # noqa: E402
from kilngit.finetune.metrics import read_metrics  # noqa: E402
from kilngit.finetune.tinker_job import TinkerTrainer  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.providers.base import ChatRequest  # noqa: E402
from kilngit.providers.registry import get_provider  # noqa: E402
from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer, token_loss  # noqa: E402
from kilngit.validate import validate_project  # noqa: E402
from tests.finetune.helpers import TASK, split_and_finetune  # noqa: E402

BASE = "Qwen/Qwen3-8B"
LR = 1e-4
PARAMS = {
    "tokenizer": "byte",
    "batch_size": 2,
    "steps": 6,
    "checkpoint_every": 2,
    "learning_rate": LR,
    "lora_rank": 4,
}


@pytest.fixture
def server(monkeypatch):
    with FakeTinkerServer() as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("TINKER_TELEMETRY", "0")
        yield srv
    assert srv.errors == []


def sample(project: Project, model: str) -> str:
    async def go() -> str:
        provider = get_provider("tinker", project, cache="off")
        try:
            answer = await provider.complete(
                ChatRequest(model=model, messages=({"role": "user", "content": "convert a.mov"},))
            )
        finally:
            await provider.aclose()
        return answer.content or ""

    return asyncio.run(go())


def test_train_publish_and_sample(project: Project, server: FakeTinkerServer):
    split_and_finetune(project, "tinker", base_model=BASE, params=PARAMS)
    status = start_finetune(project, TASK, "ft")
    assert status.state == "succeeded" and status.step == 6
    assert status.checkpoint.endswith("/weights/step-000006")
    assert status.sampler_checkpoint == status.fine_tuned_model and "/sampler_weights/final-step-000006" in (
        status.fine_tuned_model
    )
    assert server.state.model(status.provider_job_id).step == 6
    metrics = read_metrics(project, TASK, "ft")
    assert [m.step for m in metrics] == [1, 2, 3, 4, 5, 6]
    for m in metrics:
        assert m.loss == pytest.approx(token_loss((m.step - 1) * LR), rel=1e-5) and m.learning_rate == LR
    config = Project(project.root).run_configs(TASK)["ft-ft"]
    assert (config.provider, config.model) == ("tinker", status.fine_tuned_model)
    assert sample(project, config.model).startswith("fake completion from final-step-000006 at step 6")
    assert start_finetune(project, TASK, "ft").step == 6  # done: a no-op
    assert validate_project(project.root).ok


def test_resume_after_crash_from_last_checkpoint(project: Project, server: FakeTinkerServer, monkeypatch):
    split_and_finetune(project, "tinker", base_model=BASE, params=PARAMS)
    server.inject_fault("forward_backward", nth=4, mode="future", category="user", message="boom")
    with pytest.raises(ProviderError, match="at step 4"):
        start_finetune(project, TASK, "ft")
    status = Project(project.root).finetune_status(TASK, "ft")
    assert (status.state, status.step) == ("failed", 2) and status.checkpoint.endswith("step-000002")
    assert [m.step for m in read_metrics(project, TASK, "ft")] == [1, 2, 3]  # step 3 never checkpointed

    server2 = server.restart(crash=True)  # the service loses live models; checkpoints survive
    try:
        done = start_finetune(Project(project.root), TASK, "ft")
        assert done.state == "succeeded" and done.step == 6
        loads = server2.requests_to("load_weights")
        assert len(loads) == 1 and loads[0].body["path"] == status.checkpoint and loads[0].body["optimizer"]
        assert server2.state.model(done.provider_job_id).step == 6
        metrics = read_metrics(project, TASK, "ft")
        assert [m.step for m in metrics] == [1, 2, 3, 4, 5, 6]
        assert metrics[2].loss == pytest.approx(token_loss(2 * LR), rel=1e-5)  # redone from the checkpoint
        assert metrics[5].loss == pytest.approx(token_loss(5 * LR), rel=1e-5)
    finally:
        server2.stop()


def test_cancel_stops_before_the_next_step(project: Project, server: FakeTinkerServer):
    split_and_finetune(project, "tinker", base_model=BASE, params=PARAMS)
    spec = get_finetune(project, TASK, "ft")
    trainer = TinkerTrainer(project, TASK, "ft", spec)

    def cancel_at_three(metric):
        if metric.step == 3:
            cancel_finetune(project, TASK, "ft")

    try:
        taken = trainer.train_to(6, LR, on_step=cancel_at_three)
    finally:
        trainer.close()
    status = Project(project.root).finetune_status(TASK, "ft")
    assert [m.step for m in taken] == [1, 2, 3] and (status.state, status.step) == ("cancelled", 3)
    assert start_finetune(project, TASK, "ft").state == "cancelled"  # stays cancelled
    resumed = start_finetune(project, TASK, "ft", retry=True)
    assert resumed.state == "succeeded" and resumed.step == 6
