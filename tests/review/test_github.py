"""The GitHub workflow: valid YAML with the documented Actions keys, written by `kilngit init --github`, and its
shell steps run for real against a git history (a clone whose origin holds the base branch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kilngit._io import load_yaml
from kilngit.cli.main import main
from kilngit.errors import KilngitError
from kilngit.review.github import WORKFLOW_PATH, write_workflow
from kilngit.review.render import MARKER
from tests.conftest import git
from tests.review.history import build_history


def _steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["review"]["steps"]


def test_workflow_is_valid_actions_yaml(project):
    path = write_workflow(project.root)
    assert path == project.root / WORKFLOW_PATH
    data = load_yaml(path.read_text())
    assert set(data) == {"name", "on", "permissions", "concurrency", "jobs"}
    assert data["on"] == {"pull_request": None}
    assert data["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = data["jobs"]["review"]
    assert job["runs-on"] == "ubuntu-latest" and job["defaults"]["run"]["working-directory"] == "."
    assert job["env"]["KILNGIT_INSTALL"] == "kilngit"
    for step in _steps(data):
        assert set(step) <= {"name", "uses", "run", "with", "env", "if"}
        assert ("uses" in step) != ("run" in step), step
    checkout = _steps(data)[0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    runs = " ".join(s.get("run", "") for s in _steps(data))
    assert "kilngit validate" in runs and 'kilngit review "origin/$BASE_REF...HEAD" --format markdown > review.md' in runs
    script = _steps(data)[-1]["with"]["script"]
    assert _steps(data)[-1]["uses"].startswith("actions/github-script@")
    assert MARKER in script and "updateComment" in script and "createComment" in script
    assert "# KILNGIT_INSTALL: \"kilngit @ git+https://" in path.read_text()  # the commented alternative
    # idempotent; a hand-edited workflow is kept unless forced
    assert write_workflow(project.root) == path
    path.write_text(path.read_text() + "# edited\n")
    with pytest.raises(KilngitError, match="already exists"):
        write_workflow(project.root)
    write_workflow(project.root, force=True)
    assert "# edited" not in path.read_text()


def test_init_github_writes_the_workflow(tmp_path):
    assert main(["init", str(tmp_path / "p"), "--github"]) == 0
    assert (tmp_path / "p" / WORKFLOW_PATH).is_file()


def test_workflow_for_a_project_in_a_subfolder(_template_project, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copytree(_template_project, repo / "ml" / "ai", ignore=shutil.ignore_patterns(".git"))
    path = write_workflow(repo / "ml" / "ai")
    assert path == repo / WORKFLOW_PATH
    data = load_yaml(path.read_text())
    assert data["jobs"]["review"]["defaults"]["run"]["working-directory"] == "ml/ai"
    assert 'readFileSync("ml/ai/review.md"' in _steps(data)[-1]["with"]["script"]


def test_workflow_shell_steps_run_against_a_real_history(project, tmp_path):
    """Clone a pull-request branch the way actions/checkout does (full history, origin/main present) and run
    every shell step that calls kilngit, with the step's env, in the job's working directory."""
    history = build_history(project)
    git(project.root, "branch", "-f", "main", history.base)
    write_workflow(project.root)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--branch", "pr", str(project.root), str(ci))
    workflow = load_yaml((project.root / WORKFLOW_PATH).read_text())
    job = workflow["jobs"]["review"]
    summary = tmp_path / "summary.md"
    bin_dir = Path(sys.executable).parent  # where the kilngit console script is installed
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", GITHUB_STEP_SUMMARY=str(summary),
               BASE_REF="main", **{k: str(v) for k, v in job["env"].items()})
    ran = []
    for step in _steps(workflow):
        command = step.get("run", "")
        if "kilngit " not in command or "pip install" in command:
            continue
        proc = subprocess.run(["bash", "-e", "-c", command], cwd=ci / job["defaults"]["run"]["working-directory"],
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, (step, proc.stdout, proc.stderr)
        ran.append(step["name"])
    assert ran == ["Validate records", "Review changes"]
    review = (ci / "review.md").read_text()
    assert review.startswith(MARKER) and "| ratings changed | 3 (alice&#64;example.com: 1, bob&#64;example.com: 2) |" in review
    assert "| golden set | accuracy: +1 −0 (2 → 3) |" in review
    assert summary.read_text() == review
