"""Without a working sandbox kilngit refuses to run project code, unless the user opts in with --unsandboxed."""

from __future__ import annotations

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.records import Eval, Judge
from kilngit.sandbox import probe
from tests.sync.conftest import commit_by_hand, make_run


@pytest.fixture
def code_judge_project(project):
    (project.root / "judge_mod.py").write_text("def judge(task, input, output):\n    return {'correct': 1}\n")
    project.write_definition(
        layout.eval_file("ffmpeg", "q"),
        Eval(name="q", scores=[{"name": "correct", "instruction": "x"}], default_judge="code"),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "q", "code"), Judge(type="code", function="judge_mod:judge")
    )
    runs = [make_run("request", output="ffmpeg -i a b").model_copy(update={"tags": ["eval_set"]}).with_id()]
    commit_by_hand(project.root, runs, "a code judge")
    return project


def run_eval_q(project, *options: str) -> int:
    return main(["-C", str(project.root), *options, "run", "eval", "q", "--no-show"])


def test_without_bwrap_project_code_is_refused_with_the_way_out(code_judge_project, monkeypatch, capsys):
    monkeypatch.setenv("KILNGIT_BWRAP", "/nonexistent/bwrap")
    assert run_eval_q(code_judge_project) == 1
    err = capsys.readouterr().err
    assert (
        "code judge code (judge_mod:judge) is project code" in err
        and "bubblewrap (bwrap) is not installed" in err
    )
    assert "apt-get install bubblewrap" in err and "--unsandboxed" in err
    assert code_judge_project.judge_results("ffmpeg", "q") == []


def test_namespaces_not_allowed_is_refused_with_bwraps_reason(
    code_judge_project, monkeypatch, capsys, tmp_path
):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KILNGIT_BWRAP", str(fake))
    assert run_eval_q(code_judge_project) == 1
    assert "setting up uid map: Permission denied" in capsys.readouterr().err


def test_unsandboxed_runs_it_as_a_plain_process(code_judge_project, monkeypatch):
    monkeypatch.setenv("KILNGIT_BWRAP", "/nonexistent/bwrap")
    monkeypatch.setenv("KILNGIT_UNSANDBOXED", "0")  # restored after the test (--unsandboxed sets it)
    assert run_eval_q(code_judge_project, "--unsandboxed") == 0
    (result,) = code_judge_project.judge_results("ffmpeg", "q")
    assert result.scores == {"correct": 1.0}


@pytest.mark.skipif(probe() is not None, reason=f"no sandbox on this machine: {probe()}")
def test_with_bwrap_it_runs_sandboxed(code_judge_project):
    assert run_eval_q(code_judge_project) == 0
    (result,) = code_judge_project.judge_results("ffmpeg", "q")
    assert result.scores == {"correct": 1.0}
