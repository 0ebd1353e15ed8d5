"""The core commands through the real CLI entry point: exit codes, messages, --format json."""

import json

import pytest

from kilngit.cli.main import main
from tests.conftest import run_cli


def kilngit(*args):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    return run_cli(*args, text=True)


def test_init_task_add_validate_status(tmp_path):
    root = tmp_path / "p"
    r = kilngit("init", str(root), "--name", "demo")
    assert r.returncode == 0, r.stderr
    assert (root / ".git").is_dir() and (root / "kilngit.yaml").is_file()
    assert "linguist-generated" in (root / ".gitattributes").read_text()
    assert ".kilngit/" in (root / ".gitignore").read_text()
    r = kilngit(
        "-C",
        str(root),
        "task",
        "new",
        "ffmpeg",
        "--instruction",
        "Write one ffmpeg command",
        "--requirement",
        "safe:pass_fail_critical=Never deletes files",
    )
    assert r.returncode == 0, r.stderr
    r = kilngit(
        "-C",
        str(root),
        "add",
        "run",
        "ffmpeg",
        "--input",
        "mov to mp4",
        "--output",
        "ffmpeg -i a.mov a.mp4",
        "--tag",
        "golden",
    )
    assert r.returncode == 0 and len(r.stdout.strip()) == 16
    r = kilngit("-C", str(root), "validate", "--format", "json")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["ok"] and data["kinds"]["task_run"] == 1
    r = kilngit("-C", str(root), "status", "--format", "json")
    status = json.loads(r.stdout)
    assert status["tasks"][0]["runs"] == 1 and status["tasks"][0]["unrated"] == 1
    assert (
        "# yaml-language-server: $schema=../../schema/task.schema.json"
        in (root / "tasks/ffmpeg/task.yaml").read_text()
    )


def test_validate_exit_code_and_message(project):
    (project.root / "tasks/ffmpeg/prompts/bad.yaml").write_text("kind: prompt\nsytem: typo\n")
    r = kilngit("-C", str(project.root), "validate")
    assert r.returncode == 1
    assert "tasks/ffmpeg/prompts/bad.yaml#/sytem" in r.stdout and "fix:" in r.stdout


def test_known_errors_exit_1_without_traceback(tmp_path):
    r = kilngit("-C", str(tmp_path), "status")
    assert r.returncode == 1 and "no kilngit project" in r.stderr and "Traceback" not in r.stderr


def test_usage_error_exits_2(project):
    assert main(["-C", str(project.root), "validate", "--format", "xml"]) == 2


def test_editing_a_definition_keeps_comments(project):
    from kilngit.records import Task

    path = project.root / "tasks/ffmpeg/task.yaml"
    path.write_text(path.read_text().replace("name: NL to ffmpeg", "name: NL to ffmpeg  # shown in reports"))
    task = project.task("ffmpeg")
    project.write_definition(
        "tasks/ffmpeg/task.yaml", Task(**{**task.model_dump(), "instruction": "Changed."})
    )
    text = path.read_text()
    assert "# shown in reports" in text and "instruction: Changed." in text


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"], ["status", "--help"]])
def test_help(args):
    assert main(args) == 0


def test_init_github_on_existing_project_adds_only_the_workflow(project):
    before = (project.root / "kilngit.yaml").read_bytes()
    source = "kilngit @ git+https://example.invalid/kilngit.git@0123456789abcdef0123456789abcdef01234567"
    assert main(["init", str(project.root), "--github", "--kilngit-source", source]) == 0
    assert (project.root / ".github/workflows/kilngit.yml").is_file()
    assert (project.root / "kilngit.yaml").read_bytes() == before


def test_exit_codes_of_commands_pass_through(project):
    (project.root / "tasks/ffmpeg/prompts/bad.yaml").write_text("kind: prompt\nsytem: typo\n")
    assert main(["-C", str(project.root), "validate"]) == 1
