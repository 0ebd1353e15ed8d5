"""Hostile files: what a bad push, a careless teammate or an attacker can put in a project, each made real
on disk (symlinks, FIFOs, deep nesting, bad numbers, folders where files belong)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kilngit import layout
from kilngit.project import Project
from tests.conftest import run_cli
from tests.evals.conftest import _eval_template, eval_project, judge_server  # noqa: F401 (fixtures)
from tests.runner.conftest import srv  # noqa: F401 (fixture)

TASK = "ffmpeg"


def kilngit(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The command run in this process (a crash is exit 3, a hang fails the test through pytest-timeout)."""
    return run_cli("-C", str(root), *args)


def kilngit_child(
    root: Path, *args: str, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """The real command in a child process, for what only a child can be given or do safely (a pipe as stdin,
    an endless input that would fill this process): a hang fails the test through `timeout`."""
    return subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(root), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )


def a_run(project: Project):  # type: ignore[no-untyped-def]
    return next(iter(sorted(project.runs(TASK).values(), key=lambda r: r.id)))


def _outside(root: Path) -> Path:
    out = root.parent / "outside"
    out.mkdir(exist_ok=True)
    return out


def symlinked_shard(root: Path) -> str:
    """A shard folder that is a symlink to a folder outside holding a valid-looking run."""
    project = Project(root)
    run = a_run(project)
    src = root / layout.run_file(TASK, run.id)
    target = _outside(root) / "shard"
    target.mkdir()
    fake_id = "ee" + run.id[2:]
    (target / fake_id[2:4]).mkdir()
    (target / fake_id[2:4] / f"{fake_id}.json").write_bytes(src.read_bytes())
    os.symlink(target, root / f"tasks/{TASK}/runs/ee")
    return f"tasks/{TASK}/runs/ee"


def symlinked_task(root: Path) -> str:
    target = _outside(root) / "task"
    target.mkdir()
    (target / "task.yaml").write_bytes((root / layout.task_file(TASK)).read_bytes())
    os.symlink(target, root / "tasks/evil")
    return "tasks/evil"


def symlinked_rater(root: Path) -> str:
    target = _outside(root) / "rater"
    target.mkdir()
    folder = root / f"tasks/{TASK}/annotations/mallory@example.com"
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, folder)
    return f"tasks/{TASK}/annotations/mallory@example.com"


def symlinked_prompt(root: Path) -> str:
    secret = _outside(root) / "secret.yaml"
    secret.write_text("kind: prompt\ninstructions: hi\n")
    os.symlink(secret, root / f"tasks/{TASK}/prompts/evil.yaml")
    return f"tasks/{TASK}/prompts/evil.yaml"


def _run_path(root: Path, prefix: str = "ab") -> Path:
    path = root / layout.run_file(TASK, prefix + "0" * 14)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _run_text(root: Path, replace: tuple[str, str]) -> str:
    run = a_run(Project(root))
    text = (root / layout.run_file(TASK, run.id)).read_text()
    return text.replace(*replace) if replace[0] in text else text


def deep_json(root: Path) -> str:
    path = _run_path(root)
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path.relative_to(root).as_posix()


def infinity(root: Path) -> str:
    path = _run_path(root)
    path.write_text('{"kind": "task_run", "sample": Infinity}')
    return path.relative_to(root).as_posix()


def lone_surrogate(root: Path) -> str:
    path = _run_path(root)
    path.write_text('{"kind": "task_run", "input": "a\\ud800b"}')
    return path.relative_to(root).as_posix()


def duplicate_key(root: Path) -> str:
    path = _run_path(root)
    path.write_text('{"kind": "task_run", "output": "a", "output": "rm -rf /"}')
    return path.relative_to(root).as_posix()


def deep_yaml(root: Path) -> str:
    path = root / f"tasks/{TASK}/prompts/deep.yaml"
    path.write_text("kind: prompt\ninstructions: " + "[" * 50_000 + "]" * 50_000 + "\n")
    return path.relative_to(root).as_posix()


def small_deep_prompt(root: Path) -> str:
    """2 KB of nesting: small enough for every size limit."""
    path = root / f"tasks/{TASK}/prompts/nested.yaml"
    path.write_text("kind: prompt\ninstructions: " + "{a: " * 500 + "1" + "}" * 500 + "\n")
    return path.relative_to(root).as_posix()


def folder_as_run(root: Path) -> str:
    path = _run_path(root)
    path.mkdir()
    return path.relative_to(root).as_posix()


def folder_as_prompt(root: Path) -> str:
    path = root / f"tasks/{TASK}/prompts/folder.yaml"
    path.mkdir()
    return path.relative_to(root).as_posix()


def fifo_as_run(root: Path) -> str:
    path = _run_path(root)
    os.mkfifo(path)
    return path.relative_to(root).as_posix()


def fifo_as_prompt(root: Path) -> str:
    path = root / f"tasks/{TASK}/prompts/pipe.yaml"
    os.mkfifo(path)
    return path.relative_to(root).as_posix()


def wrong_shard(root: Path) -> str:
    run = a_run(Project(root))
    src = root / layout.run_file(TASK, run.id)
    shard = "00" if not run.id.startswith("00") else "01"
    dest = root / f"tasks/{TASK}/runs/{shard}/{run.id[2:4]}/{run.id}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dest)
    return dest.relative_to(root).as_posix()


HOSTILE: dict[str, Callable[[Path], str]] = {
    f.__name__: f
    for f in (
        symlinked_shard,
        symlinked_task,
        symlinked_rater,
        symlinked_prompt,
        deep_json,
        infinity,
        lone_surrogate,
        duplicate_key,
        deep_yaml,
        small_deep_prompt,
        folder_as_run,
        folder_as_prompt,
        fifo_as_run,
        fifo_as_prompt,
        wrong_shard,
    )
}


def problems_json(root: Path) -> dict:
    return json.loads(kilngit(root, "validate", "--format", "json").stdout)
