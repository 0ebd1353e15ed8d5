"""The console entry point: which command lines start git before the CLI is imported, and that such a
command prints what `validate --no-cache` prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cli.entry import plain_validate
from kilngit.project import Project
from tests.conftest import git


@pytest.mark.parametrize(
    ("argv", "folder"),
    [
        (["validate"], "."),
        (["-C", "p", "validate"], "p"),
        (["-Cp", "validate"], "p"),
        (["--project", "p", "validate"], "p"),
        (["--project=p", "validate"], "p"),
        (["-C", "validate", "validate"], "validate"),
        (["validate", "--format", "json"], "."),
        (["-C", "p", "validate", "--format=text"], "p"),
        ([], None),
        (["status"], None),
        (["-C"], None),
        (["-C", "p"], None),
        (["--trust", "validate"], None),
        (["-C", "p", "-C", "q", "validate"], None),
        (["validate", "sub"], None),
        (["validate", "--no-cache"], None),
        (["validate", "--changed"], None),
        (["validate", "--format"], None),
        (["validate", "--format", "yaml"], None),
        (["validate", "-C", "p"], None),
        (["validate", "--help"], None),
    ],
)
def test_only_a_plain_validate_starts_git_first(argv: list[str], folder: str | None) -> None:
    assert plain_validate(argv) == folder


def test_no_cache_in_the_environment_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    assert plain_validate(["validate"]) is None


def _child(root: str, *argv: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", root, "validate", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = re.compile(r'\d+\.\d+s$|"seconds": [0-9.]+', re.M)
    return proc.returncode, seconds.sub("S", proc.stdout), seconds.sub("S", proc.stderr)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_plain_validate_after_edits_prints_what_no_cache_prints(project: Project, fmt: str) -> None:
    root = str(project.root)
    run = add_run(project, "ffmpeg", "convert a.mov", "ffmpeg -i a.mov a.mp4")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "a run")
    assert _child(root, "--format", fmt) == _child(root, "--no-cache", "--format", fmt)  # fills the cache
    edited = project.root / layout.run_file("ffmpeg", run.id)
    data = json.loads(edited.read_text())
    data["unknown_field"] = 1  # an error the check must find, named by file and field
    edited.write_text(json.dumps(data))
    (project.root / layout.task_file("ghost")).parent.mkdir(parents=True)
    (project.root / layout.task_file("ghost")).write_text("name: [unclosed\n")
    got = _child(root, "--format", fmt)
    assert got[0] == 1 and got == _child(root, "--no-cache", "--format", fmt)
    edited.unlink()
    assert _child(root, "--format", fmt) == _child(root, "--no-cache", "--format", fmt)
