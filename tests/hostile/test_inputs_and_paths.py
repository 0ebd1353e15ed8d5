"""Command-line values and paths from definitions: empty identifiers, unbounded --inputs, paths that leave
the project, `validate PATH` with a missing or upward path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.errors import UsageError
from kilngit.runner.inputs import read_lines
from tests.hostile.conftest import a_run, kilngit, kilngit_child
from tests.runner.conftest import add_config, inputs, write_jsonl


@pytest.mark.parametrize(
    "args",
    [
        ("run", "eval", "--task", "", "correctness"),
        ("run", "eval", "correctness", "--judge", ""),
        ("eval", "scores", "correctness", "--judge", ""),
        ("review", ""),
        ("rate", "", "--pass"),
        ("rate", "RUN", "--pass", "--as", ""),
        ("run", "task", "ffmpeg", "--config", "", "--input", "x"),
    ],
)
def test_empty_identifiers_are_usage_errors(eval_project, args):
    run = a_run(eval_project)
    out = kilngit(eval_project.root, *[run.id if a == "RUN" else a for a in args])
    assert out.returncode == 2, out.stderr.decode()
    assert b"must not be empty" in out.stderr


def test_inputs_from_dev_zero_fail_fast(project, srv):
    add_config(project)
    out = kilngit_child(
        project.root, "run", "task", "ffmpeg", "--config", "fake", "--inputs", "/dev/zero", timeout=60
    )
    assert out.returncode == 2 and b"line longer than" in out.stderr, out.stderr.decode()


def test_inputs_from_a_pipe(project, srv, tmp_path):
    add_config(project)
    feeder = subprocess.Popen(
        [sys.executable, "-c", "print('\"trim a.mp4\"'); print('\"rotate b.mp4\"')"], stdout=subprocess.PIPE
    )
    out = kilngit_child(
        project.root,
        "run",
        "task",
        "ffmpeg",
        "--config",
        "fake",
        "--inputs",
        "/dev/stdin",
        stdin=feeder.stdout.read(),
    )
    feeder.wait()
    assert out.returncode == 0, out.stderr.decode()
    assert b"2 succeeded" in out.stdout


def test_input_limits(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", inputs(10))
    assert len(read_lines(path)) == 10
    with pytest.raises(UsageError, match="line longer than"):
        read_lines(write_jsonl(tmp_path / "long.jsonl", ["x" * 200]), max_line=100)
    with pytest.raises(UsageError, match="more than 100 bytes"):
        read_lines(path, max_total=100)


@pytest.mark.parametrize(
    "line", ['{"input": "a", "input": "b"}', '"a\\ud800"', "[" * 1000 + "]" * 1000, '{"input": NaN}']
)
def test_hostile_input_lines_are_usage_errors(project, srv, tmp_path, line):
    add_config(project)
    path = tmp_path / "in.jsonl"
    path.write_text(line + "\n")
    out = kilngit(project.root, "run", "task", "ffmpeg", "--config", "fake", "--inputs", str(path))
    assert out.returncode == 2, out.stderr.decode()
    assert f"{path}:1".encode() in out.stderr


def test_knowledge_file_outside_the_project_is_refused(eval_project):
    judge = eval_project.root / layout.judge_file("ffmpeg", "correctness", "has-ffmpeg")
    judge.write_text(judge.read_text() + "knowledge_file: ../../etc/passwd\n")
    out = kilngit(eval_project.root, "validate")
    assert out.returncode == 1 and b"/knowledge_file" in out.stdout and b"not a path inside" in out.stdout


def test_recordings_path_outside_the_project_is_refused(project, srv, tmp_path):
    add_config(project)
    manifest = project.root / layout.MANIFEST
    manifest.write_text(manifest.read_text() + "recordings:\n  mode: record\n  path: ../../x\n")
    out = kilngit(project.root, "validate")
    assert out.returncode == 1 and b"/recordings/path" in out.stdout
    out = kilngit(project.root, "run", "task", "ffmpeg", "--config", "fake", "--input", "trim a.mp4")
    assert out.returncode == 1 and b"kilngit.yaml" in out.stderr, out.stderr.decode()
    assert not (project.root.parent.parent / "x").exists()


def test_validate_path_must_exist_and_is_not_walked_up_from(project, tmp_path):
    out = kilngit(project.root, "validate", "no-such-folder")
    assert out.returncode == 2 and b"does not exist" in out.stderr
    other = tmp_path / "elsewhere"
    other.mkdir()
    out = kilngit(other, "validate", "../..")  # resolves to a folder above every project
    assert out.returncode == 1 and b"no kilngit project" in out.stderr
    assert kilngit(project.root, "validate", ".").returncode == 0
