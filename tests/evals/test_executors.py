"""Executors without a cluster: the registry, and the code bundle a cluster worker gets (what is shipped,
and that trust comes first)."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from kilngit.cli.main import main
from kilngit.errors import UsageError
from kilngit.evals.executors import get_executor
from kilngit.evals.executors.bundle import CodeBundle, code_bundle
from kilngit.evals.executors.local import LocalExecutor
from kilngit.trust import UntrustedError
from tests.conftest import git


def test_executors_by_name():
    assert isinstance(get_executor("local"), LocalExecutor)
    with pytest.raises(UsageError, match="unknown executor 'dask'"):
        get_executor("dask")
    with pytest.raises(UsageError, match="only for a cluster executor"):
        get_executor("local", "127.0.0.1:6379")


def test_without_ray_the_error_says_what_to_install(monkeypatch):
    from kilngit.evals.executors import ray_cluster  # imports Ray (slow): only this test needs it

    monkeypatch.setattr(ray_cluster, "ray", None)
    with pytest.raises(ray_cluster.ExecutorError) as raised:
        get_executor("ray")
    assert "pip install 'kilngit[ray]'" in str(raised.value)


def test_the_bundle_is_the_projects_code_only(eval_project, tmp_path):
    tool = eval_project.root / "judgelib" / "tool.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o700)
    os.symlink("simple.py", eval_project.root / "judgelib" / "alias.py")
    bundle = code_bundle(eval_project.root, "code judge exec")
    assert sorted(bundle.files) == ["judgelib/__init__.py", "judgelib/simple.py", "judgelib/tool.sh"]
    assert bundle.links == {"judgelib/alias.py": "simple.py"}
    root = bundle.unpack(tmp_path / "unpacked")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "judgelib",
        "judgelib/__init__.py",
        "judgelib/alias.py",
        "judgelib/simple.py",
        "judgelib/tool.sh",
    ]
    assert stat.S_IMODE(root.stat().st_mode) == stat.S_IMODE((root / "judgelib").stat().st_mode) == 0o755
    assert (
        stat.S_IMODE((root / "judgelib" / "simple.py").stat().st_mode) == 0o644
    )  # the sandbox's user reads it
    assert stat.S_IMODE(os.stat(root / "judgelib" / "tool.sh").st_mode) == 0o755
    assert (root / "judgelib" / "alias.py").read_text() == (
        eval_project.root / "judgelib" / "simple.py"
    ).read_text()
    assert bundle.digest == code_bundle(eval_project.root, "code judge exec").digest
    tool.write_text("#!/bin/sh\necho changed\n")
    assert bundle.digest != code_bundle(eval_project.root, "code judge exec").digest


def test_untrusted_code_is_never_bundled(eval_project, untrusted):
    git(eval_project.root, "add", "-A")
    git(eval_project.root, "commit", "-qm", "a teammate's judge")  # arrived through git: not trusted here
    with pytest.raises(UntrustedError, match="not running code judge exec"):
        code_bundle(eval_project.root, "code judge exec")


def test_unpacking_stays_inside_its_folder(tmp_path):
    for path in ("../escape.py", "/etc/passwd"):
        with pytest.raises(ValueError, match="not a relative path"):
            CodeBundle({path: (b"x", False)}).unpack(tmp_path / path.strip("/.").replace("/", "-"))
    assert not (tmp_path.parent / "escape.py").exists()


def test_an_unreachable_cluster_is_a_command_error_before_any_work(eval_project, capsys):
    pytest.importorskip("ray")
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    argv = ["-C", str(eval_project.root), "run", "eval", "correctness", "--executor", "ray", "--no-show"]
    assert main([*argv, "--ray-address", f"127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert f"cannot connect to the Ray cluster at 127.0.0.1:{port}" in err and "Traceback" not in err
    assert not list((eval_project.root / "tasks").rglob("results/*/*"))
