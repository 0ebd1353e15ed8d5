"""`kilngit finetune` through the real CLI entry point (in-process), against the loopback fakes."""

from __future__ import annotations

import json
import sys
import types

import pytest

from kilngit.cli.main import main
from kilngit.finetune.loop import LoopSettings, run_loop
from kilngit.finetune.splits import materialize_split, new_split, parse_parts
from kilngit.project import Project
from kilngit.records import FineTuneStatus
from kilngit.testing.fake_openai import FakeOpenAI
from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer
from tests.finetune.helpers import TASK, add_eval, add_runs


@pytest.fixture
def root(project: Project) -> str:
    add_runs(project, 6)
    new_split(project, TASK, "s", parse_parts(["train=0.5,test=0.5"]))
    materialize_split(project, TASK, "s")
    return str(project.root)


def test_create_export_start_status_openai(root: str, capsys, monkeypatch, tmp_path):
    assert (
        main(
            [
                "-C",
                root,
                "finetune",
                "create",
                "ft",
                "--provider",
                "openai",
                "--base-model",
                "gpt-4o-mini",
                "--split",
                "s",
                "--param",
                "learning_rate=1",
            ]
        )
        == 2
    )
    assert "unknown openai fine-tune parameter" in capsys.readouterr().err
    assert (
        main(
            [
                "-C",
                root,
                "finetune",
                "create",
                "ft",
                "--provider",
                "openai",
                "--base-model",
                "gpt-4o-mini",
                "--split",
                "s",
                "--param",
                "n_epochs=2",
                "--validation-part",
                "test",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["-C", root, "finetune", "export", "ft", "--format", "openai"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 3 and "3 examples from 3 runs" in out.err
    dest = tmp_path / "ft.jsonl"
    assert (
        main(
            [
                "-C",
                root,
                "finetune",
                "export",
                "ft",
                "--format",
                "openai",
                "--part",
                "test",
                "--out",
                str(dest),
            ]
        )
        == 0
    )
    assert all(json.loads(line)["messages"] for line in dest.read_text().splitlines())

    with FakeOpenAI() as srv:
        monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cli")
        assert main(["-C", root, "finetune", "start", "ft", "--wait", "--poll-interval", "0.01"]) == 0
        assert "ft: succeeded" in capsys.readouterr().out
        assert main(["-C", root, "finetune", "status", "--format", "json"]) == 0
        (data,) = json.loads(capsys.readouterr().out)
        assert data["state"] == "succeeded" and data["steps"] == 3 and data["run_config"] == "ft-ft"
    assert main(["-C", root, "finetune", "status", "--no-refresh"]) == 0
    assert "loss 0.5 at step 3" in capsys.readouterr().out


def test_missing_key_is_a_clear_error(root: str, capsys):
    main(
        ["-C", root, "finetune", "create", "ft", "--provider", "openai", "--base-model", "m", "--split", "s"]
    )
    assert main(["-C", root, "finetune", "start", "ft"]) == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    project = Project(root)
    status = project.finetune_status(TASK, "ft") or FineTuneStatus(task=TASK, finetune="ft")
    project.write_record(status.model_copy(update={"state": "running", "provider_job_id": "ftjob-1"}))
    assert main(["-C", root, "finetune", "status"]) == 0  # shows the file, says why it is not fresh
    assert (
        "ft: running, job ftjob-1\n  (not refreshed: fine-tuning with 'openai' needs"
        in capsys.readouterr().out
    )


def test_tinker_start_cancel_and_loop(root: str, capsys, monkeypatch):
    project = Project(root)
    add_runs(project, 2, tag="eval_set", prefix="eval")
    add_eval(project, judge_pattern="fake completion")
    assert (
        main(
            [
                "-C",
                root,
                "finetune",
                "create",
                "qt",
                "--provider",
                "tinker",
                "--base-model",
                "Qwen/Qwen3-8B",
                "--split",
                "s",
                "--param",
                "tokenizer=byte",
                "--param",
                "steps=2",
                "--param",
                "batch_size=2",
            ]
        )
        == 0
    )
    capsys.readouterr()
    with FakeTinkerServer() as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        assert main(["-C", root, "finetune", "export", "qt", "--format", "tinker"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3
        assert main(["-C", root, "finetune", "cancel", "qt"]) == 0
        assert "qt: cancelled" in capsys.readouterr().out
        assert main(["-C", root, "finetune", "start", "qt"]) == 0
        assert "qt: cancelled" in capsys.readouterr().out
        assert main(["-C", root, "finetune", "start", "qt", "--retry"]) == 0
        out = capsys.readouterr().out
        assert "qt: succeeded" in out and "run config ft-qt" in out
        assert (
            main(
                [
                    "-C",
                    root,
                    "finetune",
                    "loop",
                    "qt",
                    "--eval",
                    "quality",
                    "--threshold",
                    "0.5",
                    "--steps-per-round",
                    "1",
                    "--max-rounds",
                    "2",
                ]
            )
            == 2
        )  # already a finished plain job
        main(
            [
                "-C",
                root,
                "finetune",
                "create",
                "lp",
                "--provider",
                "tinker",
                "--base-model",
                "Qwen/Qwen3-8B",
                "--split",
                "s",
                "--param",
                "tokenizer=byte",
                "--param",
                "batch_size=2",
            ]
        )
        capsys.readouterr()
        assert (
            main(
                [
                    "-C",
                    root,
                    "finetune",
                    "loop",
                    "lp",
                    "--eval",
                    "quality",
                    "--threshold",
                    "0.5",
                    "--steps-per-round",
                    "1",
                    "--max-rounds",
                    "2",
                ]
            )
            == 0
        )
        out = capsys.readouterr()
        assert "round 1: lr 0.0003, 1 steps" in out.err and "score 1.000" in out.err
        assert "reached 0.5 in round 1; best round 1" in out.out


def test_wandb_is_optional(root: str, capsys, monkeypatch):
    main(
        [
            "-C",
            root,
            "finetune",
            "create",
            "lp",
            "--provider",
            "tinker",
            "--base-model",
            "Qwen/Qwen3-8B",
            "--split",
            "s",
            "--param",
            "tokenizer=byte",
        ]
    )
    add_eval(Project(root))
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    assert main(["-C", root, "finetune", "loop", "lp", "--eval", "quality", "--wandb", "proj"]) == 2
    assert "needs the wandb package" in capsys.readouterr().err


def test_wandb_gets_the_same_numbers(root: str, monkeypatch):
    project = Project(root)
    add_runs(project, 1, tag="eval_set", prefix="eval")
    add_eval(project, judge_pattern="fake completion")
    main(
        [
            "-C",
            root,
            "finetune",
            "create",
            "lp",
            "--provider",
            "tinker",
            "--base-model",
            "Qwen/Qwen3-8B",
            "--split",
            "s",
            "--param",
            "tokenizer=byte",
            "--param",
            "batch_size=3",
        ]
    )
    logged: list[tuple[dict, int]] = []
    run = types.SimpleNamespace(log=lambda data, step: logged.append((data, step)), finish=lambda: None)
    stub = types.SimpleNamespace(init=lambda **kw: run)
    monkeypatch.setitem(sys.modules, "wandb", stub)
    with FakeTinkerServer() as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        result = run_loop(
            Project(root),
            TASK,
            "lp",
            LoopSettings(eval="quality", max_rounds=1, cache="off", wandb_project="proj"),
        )
    (rec,) = result.rounds
    assert logged[0] == ({"train/loss": pytest.approx(2.05), "train/learning_rate": 3e-4}, 1)
    assert logged[-1] == ({"round": 1, "eval/correct": 1.0, "eval/score": 1.0}, rec.step)
