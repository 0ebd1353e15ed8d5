"""`kilngit run task` and `kilngit generate inputs` from the command line, including Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from kilngit.cli.main import main
from tests.runner.conftest import add_config, inputs, write_jsonl


def kilngit(project, *args: str) -> int:
    return main(["-C", str(project.root), *args])


def test_run_task_input_and_json_summary(project, srv, capsys):
    add_config(project)
    assert (
        kilngit(
            project,
            "run",
            "task",
            "ffmpeg",
            "--config",
            "fake",
            "--input",
            "make a gif",
            "--tag",
            "cli",
            "--format",
            "json",
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["succeeded"] == 1 and out["remaining"] == 0 and len(out["new_runs"]) == 1
    run = project.runs("ffmpeg")[out["new_runs"][0]]
    assert run.input_source.created_by == "tester@example.com" and run.tags == ["cli"]


def test_run_task_input_prints_the_answer(project, srv, capsys):
    add_config(project)
    srv.responder = lambda body: "ffmpeg -i in.mp4 out.gif"
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--input", "make a gif") == 0
    out = capsys.readouterr().out
    assert "1 succeeded" in out and out.rstrip().endswith("ffmpeg -i in.mp4 out.gif")


def test_run_task_inputs_file_resumes(project, srv, tmp_path, capsys):
    add_config(project)
    path = write_jsonl(tmp_path / "in.jsonl", inputs(3))
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path)) == 0
    assert "3 succeeded" in capsys.readouterr().out
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path)) == 0
    assert "0 succeeded, 0 failed, 3 already done, 0 left" in capsys.readouterr().out


def test_run_task_usage_errors(project, srv, capsys):
    add_config(project)
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "fake") == 2
    assert "exactly one of --input" in capsys.readouterr().err
    assert kilngit(project, "run", "task", "ffmpeg", "--config", "nope", "--input", "x") == 1
    assert "no run config 'nope'" in capsys.readouterr().err


def test_replay_miss_exits_nonzero_with_the_request(project, capsys):
    add_config(project)
    assert (
        kilngit(
            project, "run", "task", "ffmpeg", "--config", "fake", "--input", "never seen", "--cache", "replay"
        )
        == 1
    )
    assert "never seen" in capsys.readouterr().err


def test_generate_inputs_command(project, srv, capsys):
    add_config(project)
    srv.responder = lambda body: json.dumps({"items": ["trim a.mp4", "rotate b.mp4"]})
    assert (
        kilngit(
            project,
            "generate",
            "inputs",
            "ffmpeg",
            "--config",
            "fake",
            "--topic",
            "editing",
            "-n",
            "2",
            "--format",
            "json",
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert len(out["created"]) == 2 and out["topics"] == [["editing"]]


def test_ctrl_c_keeps_finished_runs_and_resumes(project, srv, tmp_path):
    add_config(project)
    srv.latency = 0.1
    path = write_jsonl(tmp_path / "in.jsonl", inputs(30))
    runs_dir = project.root / "tasks" / "ffmpeg" / "runs"
    cmd = [
        sys.executable,
        "-m",
        "kilngit",
        "-C",
        str(project.root),
        "run",
        "task",
        "ffmpeg",
        "--config",
        "fake",
        "--inputs",
        str(path),
        "--concurrency",
        "2",
    ]
    # A shell without job control starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: give the child the default disposition, as an interactive terminal would.
    # Its own process group, signalled as a whole, as a terminal does on Ctrl-C.
    proc = subprocess.Popen(
        cmd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(list(runs_dir.rglob("*.json"))) < 4:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in out
    files = list(runs_dir.rglob("*"))
    assert not [f for f in files if f.name.startswith(".")], "a temp file was left behind"
    done = len([f for f in files if f.suffix == ".json"])
    assert 4 <= done < 30
    srv.latency = 0
    project._cache.clear()
    assert (
        main(["-C", str(project.root), "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path)])
        == 0
    )
    project._cache.clear()
    runs = list(project.runs("ffmpeg").values())
    assert len(runs) == 30 and len({r.input for r in runs}) == 30
