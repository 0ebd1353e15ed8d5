"""Exit codes scripts rely on: non-zero when a command did none of the work asked, each message once; and the
CI gate on the documented flow (eval sets of generated input-only runs, evals without judges)."""

from __future__ import annotations

import json

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cli.main import main
from kilngit.finetune.splits import new_split, parse_parts
from kilngit.project import Project
from kilngit.records import Eval, Judge
from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer
from tests.finetune.helpers import TASK as FT_TASK
from tests.finetune.helpers import add_eval, add_runs
from tests.runner.conftest import add_config, srv  # noqa: F401  (fixture)


def kilngit(project, *args: str) -> int:
    return main(["-C", str(project.root), *args])


def test_generate_inputs_with_nothing_new_exits_1(project, srv, capsys):
    add_config(project)
    srv.responder = lambda body: json.dumps({"items": []})
    assert kilngit(project, "generate", "inputs", "ffmpeg", "--config", "fake", "-n", "2") == 1
    err = capsys.readouterr().err
    assert "no new inputs: the model gave no usable input" in err and err.count("error:") == 1


def test_run_task_exit_codes(project, srv, capsys):
    add_config(project)
    srv.responder = lambda body: ""  # every answer is empty: recorded as failed runs
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--input", "make a gif") == 1
    out, err = capsys.readouterr()
    assert "0 succeeded, 1 failed" in out and "none of the 1 new runs succeeded" in err
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--filter", "tag::nothing") == 1
    assert "no inputs to run" in capsys.readouterr().err
    srv.responder = lambda body: "ffmpeg -i a.mov a.mp4"
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--input", "mov to mp4") == 0
    assert (
        kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--input", "mov to mp4") == 0
    )  # no-op


def test_provider_failure_is_printed_once(project, srv, capsys):
    add_config(project)
    srv.stop()  # nothing listens any more: every request fails to connect
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--input", "x") == 1
    out, err = capsys.readouterr()
    lines = [line.strip() for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), lines


def test_empty_split_is_an_error(project, capsys):
    new_split(project, "ffmpeg", "main", parse_parts(["train=0.8,test=0.2"]))
    assert kilngit(project, "split", "materialize", "main") == 1
    assert "split 'main' would be empty" in capsys.readouterr().err
    assert not (project.root / layout.split_membership_file("ffmpeg", "main")).exists()


def test_ci_gate_with_input_only_eval_set_and_evals_without_judges(project, capsys):
    for i in range(3):
        add_run(
            project, "ffmpeg", f"convert clip {i}", tags=["eval_set"]
        )  # generated-style inputs, no output
    ev = Eval(name="c", scores=[{"name": "correct", "instruction": "does it"}], thresholds={"correct": 0.5})
    project.write_definition(layout.eval_file("ffmpeg", "withjudge"), ev)
    project.write_definition(
        layout.judge_file("ffmpeg", "withjudge", "has"),
        Judge(type="contains", score="correct", pattern="ffmpeg"),
    )
    project.write_definition(layout.eval_file("ffmpeg", "nojudge"), ev)
    assert kilngit(project, "eval", "scores") == 0
    out, err = capsys.readouterr()
    assert (
        "unknown" not in out and "skipped evals without judges: nojudge" in err and err.count("skipped") == 1
    )
    assert kilngit(project, "eval", "align") == 0
    capsys.readouterr()
    for i in range(3):
        add_run(
            project, "ffmpeg", f"convert clip {i}", output=f"ffmpeg -i {i}.mov {i}.mp4", tags=["eval_set"]
        )
    assert kilngit(project, "run", "eval", "withjudge", "--no-progress") == 0
    capsys.readouterr()
    assert kilngit(project, "eval", "check") == 0
    out = capsys.readouterr().out
    assert "unknown" not in out and "passed" in out
    assert kilngit(project, "eval", "scores", "nojudge") == 1  # named explicitly: an error, not a skip


def test_finetune_loop_below_threshold_exits_1(project, capsys, monkeypatch):
    add_runs(project, 6)
    new_split(project, FT_TASK, "s", parse_parts(["train=0.5,test=0.5"]))
    add_runs(project, 2, tag="eval_set", prefix="eval")
    add_eval(project, judge_pattern="fake completion")
    root = str(project.root)
    assert main(["-C", root, "split", "materialize", "s"]) == 0
    assert (
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
        == 0
    )
    capsys.readouterr()
    with FakeTinkerServer() as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
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
                    "1.01",
                    "--steps-per-round",
                    "1",
                    "--max-rounds",
                    "1",
                ]
            )
            == 1
        )
    assert "stopped after 1 rounds below 1.01" in capsys.readouterr().out
    assert Project(root).finetune_status(FT_TASK, "lp") is not None
