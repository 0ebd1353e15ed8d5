"""kilngit's own child processes (the record writer, watcher jobs, code-judge workers) never import from the
project folder or the current folder: a pushed `struct.py` or `secrets.py` must not run inside them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kilngit import layout
from kilngit._child import python_module
from kilngit.cli.main import main
from kilngit.records import Eval, Judge
from kilngit.testing.fake_openai import FakeOpenAI
from tests.conftest import git
from tests.runner.conftest import add_config, point_provider_at
from tests.sync.conftest import FAST, commit_by_hand, make_run

HOSTILE = ("struct", "secrets")


def plant(folder: Path, marker: Path) -> None:
    """A `struct.py` and a `secrets.py` that leave a mark and break the process that imports them."""
    for name in HOSTILE:
        (folder / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write('{name} in ' + __file__ + '\\n')\nraise SystemExit(66)\n"
        )


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "hostile-imports.log"


def eval_set(n: int) -> list:
    return [
        make_run(f"request {i}", output="ffmpeg -i a b").model_copy(update={"tags": ["eval_set"]}).with_id()
        for i in range(n)
    ]


def test_python_module_ignores_the_current_folder(tmp_path, marker):
    plant(tmp_path, marker)
    done = subprocess.run(
        python_module("json.tool", "--help"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_record_writer_ignores_struct_py_in_the_project_and_the_cwd(project, marker, tmp_path, monkeypatch):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    for folder in (project.root, cwd):
        plant(folder, marker)
    add_config(project)
    with FakeOpenAI() as server:
        point_provider_at(monkeypatch, server)
        for where in (project.root, cwd):
            monkeypatch.chdir(where)
            assert (
                main(
                    [
                        "-C",
                        str(project.root),
                        "run",
                        "task",
                        "ffmpeg",
                        "--config",
                        "fake",
                        "--input",
                        f"make a gif from {where.name}",
                    ]
                )
                == 0
            )
    assert len(project.runs("ffmpeg")) == 2
    assert not marker.exists(), marker.read_text()


def test_code_judge_worker_ignores_struct_py_in_the_cwd(project, marker, tmp_path, monkeypatch):
    plant(tmp_path, marker)
    monkeypatch.chdir(tmp_path)
    (project.root / "judge_mod.py").write_text("def judge(task, input, output):\n    return {'correct': 1}\n")
    project.write_definition(
        layout.eval_file("ffmpeg", "q"),
        Eval(name="q", scores=[{"name": "correct", "instruction": "x"}], default_judge="code"),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "q", "code"), Judge(type="code", function="judge_mod:judge")
    )
    commit_by_hand(project.root, eval_set(1), "a run")
    assert main(["-C", str(project.root), "run", "eval", "q", "--no-show"]) == 0
    (result,) = project.judge_results("ffmpeg", "q")
    assert result.scores == {"correct": 1.0}
    assert not marker.exists(), marker.read_text()


def test_watcher_jobs_ignore_struct_py_at_the_project_root(project, marker):
    project.write_definition(
        layout.eval_file("ffmpeg", "quality"),
        Eval(
            name="quality",
            scores=[{"name": "correct", "instruction": "x"}],
            default_judge="has",
            auto_run=True,
        ),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "quality", "has"),
        Judge(type="contains", score="correct", pattern="ffmpeg"),
    )
    plant(project.root, marker)
    commit_by_hand(project.root, eval_set(3), "runs, an auto-run eval and a hostile struct.py")
    # The watcher itself is started isolated too (as the `kilngit` console script is), from the project folder.
    done = subprocess.run(
        [sys.executable, "-I", "-m", "kilngit", "watch", "--once"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env={**os.environ, **FAST},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job done: auto-run eval quality" in done.stdout
    assert not marker.exists(), marker.read_text()
    assert git(project.root, "log", "-1", "--format=%s").startswith("judge: 3 results")


def test_the_annotation_merge_driver_ignores_struct_py_at_the_repository_root(project, marker):
    from kilngit.review.annotation_merge import DRIVER, install_driver

    assert install_driver(project.root)
    plant(project.root, marker)
    command = git(project.root, "config", "--get", f"merge.{DRIVER}.driver").replace(" %O %A %B", " --help")
    done = subprocess.run(
        ["sh", "-c", command], cwd=project.root, capture_output=True, text=True
    )  # as git runs it
    assert done.returncode == 0 and "merge-annotation" in done.stdout, done.stderr
    assert not marker.exists(), marker.read_text()
