"""The console entry point: which command lines start git before the CLI is imported, and that such a
command prints what it prints with the cache off."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.cli.entry import early_folder
from kilngit.project import Project
from kilngit.records.canonical import to_file_bytes
from tests.conftest import git

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


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
        (["status"], "."),
        (["-C", "p", "status", "--format", "json"], "p"),
        (["eval", "scores"], "."),
        (["-C", "p", "eval", "scores", "quality", "--task", "t", "--format=json"], "p"),
        ([], None),
        (["status", "x"], None),
        (["status", "--format", "markdown"], None),
        (["status", "--help"], None),
        (["eval"], None),
        (["eval", "align"], None),
        (["eval", "scores", "--help"], None),
        (["eval", "scores", "-h"], None),
        (["-C", "p", "run", "eval"], None),
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
def test_only_commands_that_ask_git_first_start_it_first(argv: list[str], folder: str | None) -> None:
    assert early_folder(argv) == folder


def test_no_cache_in_the_environment_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    assert early_folder(["validate"]) is None
    assert early_folder(["status"]) is None


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


@pytest.mark.parametrize(("setting", "loaded"), [(None, False), ("", True), ("another-plugin", True)])
def test_pydantic_plugins_load_only_when_the_user_asks(
    project: Project, tmp_path: Path, setting: str | None, loaded: bool
) -> None:
    """The console entry point sets pydantic's documented switch unless the user set it: an installed
    pydantic plugin (a real entry point) is then not looked for; a user's own setting is kept."""
    site = tmp_path / "site"
    (site / "probe_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "probe_plugin-1.0.dist-info" / "METADATA").write_text("Name: probe-plugin\nVersion: 1.0\n")
    entry_points = site / "probe_plugin-1.0.dist-info" / "entry_points.txt"
    entry_points.write_text("[pydantic]\nprobe = probe_plugin:plugin\n")
    (site / "probe_plugin.py").write_text(
        "import sys\n"
        "class Plugin:\n"
        "    def new_schema_validator(self, *args):\n"
        "        print('plugin loaded', file=sys.stderr)\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = str(site)
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    proc = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(project.root), "validate", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert ("plugin loaded" in proc.stderr) == loaded


def _command(root: Path, *argv: str, cache: bool = True) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KILNGIT_NO_CACHE"}
    if not cache:
        env["KILNGIT_NO_CACHE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(root), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("argv", [["status"], ["status", "--format", "json"], ["eval", "scores"]])
def test_status_and_scores_started_early_print_what_they_print_uncached(
    tmp_path: Path, argv: list[str]
) -> None:
    """`status` and `eval scores` start git before the CLI is imported: after edits git must name (a
    rating changed in place, an annotation deleted, a new untracked one) they print what they print with
    the cache off."""
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "example")
    assert _command(root, *argv) == _command(root, *argv, cache=False)  # fills the cache
    annotations = sorted((root / "tasks").rglob("annotations/**/*.json"))
    edited = annotations[0]
    data = json.loads(edited.read_text())
    data["rating"]["value"] = 1.0 - data["rating"]["value"]
    edited.write_bytes(to_file_bytes(data))
    assert _command(root, *argv) == _command(root, *argv, cache=False)
    moved = annotations[1].read_bytes()
    annotations[1].unlink()
    assert _command(root, *argv) == _command(root, *argv, cache=False)
    annotations[1].write_bytes(moved)
    assert _command(root, *argv) == _command(root, *argv, cache=False)
