"""The eval-driven loop against the fake Tinker service, whose sampler answers better as training goes on:
threshold stopping, learning-rate decay, the best round marked, and resuming after crashes."""

from __future__ import annotations

import re

import pytest

tinker = pytest.importorskip("tinker")

from kilngit.errors import ProviderError  # noqa: E402
from kilngit.finetune.loop import LoopSettings, run_loop  # noqa: E402
from kilngit.finetune.metrics import read_metrics  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.report import write_report  # noqa: E402
from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer, SamplerInfo  # noqa: E402
from kilngit.validate import validate_project  # noqa: E402
from tests.finetune.helpers import TASK, add_eval, add_runs, split_and_finetune  # noqa: E402

STEPS = 2  # per round


def improving_sampler(prompt: list[int], info: SamplerInfo, index: int, seed: int) -> str:
    """Eval item i is answered right once round i+1 has been trained: scores 0.25, 0.5, 0.75, 1."""
    item = int(re.findall(r"file(\d+)\.mov", bytes(prompt).decode("utf-8", "replace"))[-1])
    return f"ffmpeg -i file{item}.mov out.mp4" if item < info.step // STEPS else "I am not sure."


@pytest.fixture
def server(monkeypatch):
    with FakeTinkerServer(sampler=improving_sampler) as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("TINKER_TELEMETRY", "0")
        yield srv


@pytest.fixture
def loop_project(project: Project) -> Project:
    split_and_finetune(
        project,
        "tinker",
        base_model="Qwen/Qwen3-8B",
        params={"tokenizer": "byte", "batch_size": 2, "lora_rank": 4},
    )
    add_runs(project, 4, tag="eval_set", prefix="eval")
    add_eval(project, judge_pattern="ffmpeg -i")
    return project


def settings(**kw) -> LoopSettings:
    return LoopSettings(
        **{
            "eval": "quality",
            "threshold": 0.75,
            "max_rounds": 5,
            "lr": 3e-4,
            "lr_decay": 0.5,
            "steps_per_round": STEPS,
            "cache": "off",
            **kw,
        }
    )


def test_stops_at_threshold_with_decaying_lr(loop_project: Project, server: FakeTinkerServer):
    seen = []
    result = run_loop(loop_project, TASK, "ft", settings(), on_round=seen.append)
    assert [r.round for r in result.rounds] == [1, 2, 3] == [r.round for r in seen]
    assert [r.score for r in result.rounds] == [0.25, 0.5, 0.75]
    assert [r.scores for r in result.rounds][0] == {"correct": 0.25} and result.rounds[0].items == 4
    assert [r.learning_rate for r in result.rounds] == pytest.approx([3e-4, 1.5e-4, 7.5e-5])
    assert [r.reached_threshold for r in result.rounds] == [False, False, True]
    assert result.reason == "reached 0.75 in round 3" and result.best.round == 3
    model = server.state.model(result.status.provider_job_id)
    assert model.learning_rates == pytest.approx([3e-4] * 2 + [1.5e-4] * 2 + [7.5e-5] * 2)
    status = result.status
    assert (status.state, status.best_round, status.run_config, status.step) == (
        "succeeded",
        3,
        "ft-ft-r3",
        6,
    )
    configs = Project(loop_project.root).run_configs(TASK)
    assert {"ft-ft-r1", "ft-ft-r2", "ft-ft-r3"} <= set(configs)
    assert configs["ft-ft-r3"].model == status.fine_tuned_model == result.rounds[2].sampler_checkpoint
    metrics = read_metrics(loop_project, TASK, "ft")
    assert [(m.step, m.round) for m in metrics] == [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3)]
    assert result.rounds[0].loss > result.rounds[2].loss
    assert validate_project(loop_project.root).ok
    html = write_report(Project(loop_project.root)).read_text()
    section = html[html.index('id="finetune-ffmpeg-ft"') :]
    assert "Training loss" in section and "Eval score per round" in section and "<svg" in section
    assert "round 3 (lr 7.5e-05)" in section and "3 (best)" in section
    again = run_loop(Project(loop_project.root), TASK, "ft", settings())  # finished: nothing redone
    assert again.reason == "reached 0.75 in round 3" and len(server.requests_to("forward_backward")) == 6


def test_resumes_after_crashes_in_training_and_in_the_eval(loop_project: Project, server: FakeTinkerServer):
    first = run_loop(loop_project, TASK, "ft", settings(max_rounds=1))
    assert first.reason == "stopped after 1 rounds below 0.75" and first.best.round == 1
    round_file = loop_project.root / "tasks/ffmpeg/finetunes/ft/rounds/1.json"
    before = round_file.read_bytes()

    server.inject_fault("forward_backward", nth=2, mode="future", category="user")  # round 2, second step
    with pytest.raises(ProviderError):
        run_loop(Project(loop_project.root), TASK, "ft", settings())
    server2 = server.restart(crash=True)
    try:
        server2.inject_fault("chat/completions", nth=2, status=400)  # round 2's eval loses one answer
        with pytest.raises(ProviderError, match="incomplete"):
            run_loop(Project(loop_project.root), TASK, "ft", settings())
        status = Project(loop_project.root).finetune_status(TASK, "ft")
        assert status.step == 4 and "round-2" in status.sampler_checkpoint  # round 2 trained and saved

        done = run_loop(Project(loop_project.root), TASK, "ft", settings())
        assert [r.round for r in done.rounds] == [1, 2, 3] and done.best.round == 3
        assert round_file.read_bytes() == before  # finished rounds are never redone
        loads = [r.body["path"].rsplit("/", 1)[-1] for r in server2.requests_to("load_weights")]
        assert loads == ["step-000002", "step-000004"]  # each run resumed from the last checkpoint
        assert [m.step for m in read_metrics(loop_project, TASK, "ft")] == [1, 2, 3, 4, 5, 6]
        assert len(server2.requests_to("forward_backward")) == 4  # round 2 (from its start) and round 3
    finally:
        server2.stop()


def test_loop_needs_tinker_and_sane_settings(project: Project):
    split_and_finetune(project, "openai")
    add_eval(project)
    from kilngit.errors import UsageError

    with pytest.raises(UsageError, match="tinker"):
        run_loop(project, TASK, "ft", settings())
    with pytest.raises(UsageError):
        run_loop(project, TASK, "ft", settings(lr_decay=0))
