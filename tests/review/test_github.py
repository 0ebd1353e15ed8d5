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

SOURCE = "kilngit @ git+https://example.invalid/kilngit.git@0123456789abcdef0123456789abcdef01234567"


def _steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["review"]["steps"]


def test_workflow_is_valid_actions_yaml(project):
    path = write_workflow(project.root, source=SOURCE)
    assert path == project.root / WORKFLOW_PATH
    data = load_yaml(path.read_text())
    assert set(data) == {"name", "on", "permissions", "concurrency", "jobs"}
    assert data["on"] == {"pull_request": None}
    assert data["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = data["jobs"]["review"]
    assert job["runs-on"] == "ubuntu-latest" and job["defaults"]["run"]["working-directory"] == "."
    assert job["env"]["KILNGIT_INSTALL"] == SOURCE
    for step in _steps(data):
        assert set(step) <= {"name", "uses", "run", "with", "env", "if"}
        assert ("uses" in step) != ("run" in step), step
    checkout = _steps(data)[0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0
    runs = " ".join(s.get("run", "") for s in _steps(data))
    assert (
        "kilngit validate" in runs
        and 'kilngit review "origin/$BASE_REF...HEAD" --format markdown > review.md' in runs
    )
    script = _steps(data)[-1]["with"]["script"]
    assert _steps(data)[-1]["uses"].startswith("actions/github-script@")
    assert MARKER in script and "updateComment" in script and "createComment" in script
    assert "kilngit eval check" in runs
    # idempotent; a hand-edited workflow is kept unless forced
    assert write_workflow(project.root, source=SOURCE) == path
    path.write_text(path.read_text() + "# edited\n")
    with pytest.raises(KilngitError, match="already exists"):
        write_workflow(project.root, source=SOURCE)
    write_workflow(project.root, force=True, source=SOURCE)
    assert "# edited" not in path.read_text()


def test_init_github_writes_the_workflow(tmp_path):
    assert main(["init", str(tmp_path / "p"), "--github", "--kilngit-source", SOURCE]) == 0
    assert SOURCE in (tmp_path / "p" / WORKFLOW_PATH).read_text()
    assert (
        main(["init", str(tmp_path / "p"), "--github", "--kilngit-source", 'kilngit"; rm -rf /', "--force"])
        == 1
    )


def test_workflow_for_a_project_in_a_subfolder(_template_project, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copytree(_template_project, repo / "ml" / "ai", ignore=shutil.ignore_patterns(".git"))
    path = write_workflow(repo / "ml" / "ai", source=SOURCE)
    assert path == repo / WORKFLOW_PATH
    data = load_yaml(path.read_text())
    assert data["jobs"]["review"]["defaults"]["run"]["working-directory"] == "ml/ai"
    assert 'readFileSync("ml/ai/review.md"' in _steps(data)[-1]["with"]["script"]


def test_workflow_shell_steps_run_against_a_real_history(project, tmp_path):
    """Clone a pull-request branch the way actions/checkout does (full history, origin/main present) and run
    every shell step that calls kilngit, with the step's env, in the job's working directory."""
    history = build_history(project)
    git(project.root, "branch", "-f", "main", history.base)
    write_workflow(project.root, source=SOURCE)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--branch", "pr", str(project.root), str(ci))
    workflow = load_yaml((project.root / WORKFLOW_PATH).read_text())
    job = workflow["jobs"]["review"]
    summary = tmp_path / "summary.md"
    bin_dir = Path(sys.executable).parent  # where the kilngit console script is installed
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        GITHUB_STEP_SUMMARY=str(summary),
        BASE_REF="main",
        **{k: str(v) for k, v in job["env"].items()},
    )
    ran = []
    for step in _steps(workflow):
        command = step.get("run", "")
        if "kilngit " not in command or "pip install" in command:
            continue
        proc = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=ci / job["defaults"]["run"]["working-directory"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, (step, proc.stdout, proc.stderr)
        ran.append(step["name"])
    assert ran == ["Validate records", "Check evals", "Review changes"]
    review = (ci / "review.md").read_text()
    assert (
        review.startswith(MARKER)
        and "| ratings changed | 3 (alice&#64;example.com: 1, bob&#64;example.com: 2) |" in review
    )
    assert "| golden set | accuracy: +1 −0 (2 → 3) |" in review
    assert summary.read_text() == review


def test_the_install_step_names_something_installable(tmp_path):
    """The source the workflow is given for this kilngit (its git URL pinned to a commit, here a local clone
    standing in for the hosted repository) is something pip can build kilngit from."""
    from kilngit.review.github import checkout_source, workflow_text

    repo = Path(__file__).resolve().parents[2]
    if git(repo, "rev-parse", "--is-inside-work-tree") != "true":
        pytest.skip("the kilngit source is not a git checkout")
    commit = git(repo, "rev-parse", "HEAD")
    hosted = tmp_path / "kilngit.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(hosted))
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(hosted), str(checkout))
    git(checkout, "checkout", "-q", commit)
    source = checkout_source(checkout)
    assert source == f"kilngit @ git+file://localhost{hosted.as_posix()}@{commit}"
    install = load_yaml(workflow_text(source))["jobs"]["review"]["env"]["KILNGIT_INSTALL"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"), install],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PIP_CACHE_DIR=str(tmp_path / "pip-cache"), HOME=str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name.split("-")[0] for p in (tmp_path / "wheels").glob("*.whl")] == ["kilngit"]


def test_without_a_known_source_init_github_says_what_to_pass(tmp_path, monkeypatch):
    import kilngit.review.github as gh

    monkeypatch.setattr(gh, "kilngit_source", lambda: None)
    with pytest.raises(KilngitError, match="cannot tell where this kilngit can be installed from") as err:
        write_workflow(tmp_path)
    assert "--kilngit-source" in err.value.hint
