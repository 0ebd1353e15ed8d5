"""Scaffolding from the CLI: prompt, config, eval, judge (each kind) and task set-schema write commented YAML
that validates; the `$schema` comments resolve in a fresh clone; "did you mean" on typos."""

from __future__ import annotations

import json
import re

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.cli.scaffold import JUDGE_NEW_TYPES
from kilngit.project import Project
from kilngit.schema import json_schemas
from tests.conftest import git

JUDGE_ARGS = {
    "llm_as_judge": ["--provider", "openai", "--model", "gpt-4o"],
    "g_eval": ["--provider", "openai", "--model", "gpt-4o"],
    "code": ["--function", "judges.ffmpeg:judge"],
    "regex": ["--pattern", "^ffmpeg "],
    "contains": ["--pattern", "ffmpeg"],
    "not_contains": ["--pattern", "rm "],
    "exact_match": [],
    "valid_json": [],
    "matches_schema": [],
}


def run(project, *args: str) -> int:
    return main(["-C", str(project.root), *args])


def test_every_scaffold_validates(project, capsys):
    assert run(project, "prompt", "new", "cot", "--cot", "--few-shot", "3") == 0
    assert (
        run(
            project,
            "config",
            "new",
            "mini",
            "--provider",
            "openai",
            "--model",
            "gpt-4o-mini",
            "--prompt",
            "cot",
            "--temperature",
            "0.2",
        )
        == 0
    )
    assert run(project, "eval", "new", "quality", "--score", "correct=The command does what was asked") == 0
    for kind in JUDGE_NEW_TYPES:
        assert (
            run(project, "judge", "new", "quality", kind.replace("_", "-"), "--type", kind, *JUDGE_ARGS[kind])
            == 0
        ), capsys.readouterr().err
    assert (
        run(
            project,
            "task",
            "set-schema",
            "ffmpeg",
            "--output",
            '{"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}',
        )
        == 0
    )
    capsys.readouterr()
    assert run(project, "validate") == 0, capsys.readouterr()
    project = Project(project.root)
    assert project.evals("ffmpeg")["quality"].default_judge == "llm-as-judge"
    assert project.task("ffmpeg").output_schema["required"] == ["command"]
    assert project.run_configs("ffmpeg")["mini"].temperature == 0.2
    text = (project.root / layout.run_config_file("ffmpeg", "mini")).read_text()
    assert "# Model name as the provider knows it" in text and "#   max_tokens:" in text
    judges = project.judges("ffmpeg", "quality")
    assert set(judges) == {k.replace("_", "-") for k in JUDGE_NEW_TYPES}


def test_scaffold_errors(project, capsys):
    assert (
        run(project, "config", "new", "x", "--provider", "openai", "--model", "m", "--prompt", "defualt") == 1
    )
    assert "did you mean 'default'?" in capsys.readouterr().err
    assert run(project, "eval", "new", "quality") == 0  # one score per requirement
    assert run(project, "eval", "new", "quality") == 1
    assert "already exists" in capsys.readouterr().err
    assert run(project, "judge", "new", "qualty", "j", "--type", "exact_match") == 1
    assert "did you mean 'quality'?" in capsys.readouterr().err
    assert run(project, "judge", "new", "quality", "j", "--type", "regex", "--score", "correct_command") == 2
    assert "needs --pattern" in capsys.readouterr().err
    assert (
        run(
            project,
            "judge",
            "new",
            "quality",
            "j",
            "--type",
            "contains",
            "--score",
            "corect_command",
            "--pattern",
            "x",
        )
        == 2
    )
    assert "did you mean 'correct_command'?" in capsys.readouterr().err
    assert run(project, "task", "set-schema", "ffmpeg", "--output", "{not json") == 2


def test_typo_in_a_field_gets_did_you_mean(project, capsys):
    (project.root / "tasks/ffmpeg/prompts/bad.yaml").write_text(
        "kind: prompt\nv: 1\nsytem: hi\nfew_shot:\n  cont: 2\n"
    )
    assert run(project, "validate") == 1
    out = capsys.readouterr().out
    assert "#/sytem" in out and "did you mean 'system'?" in out and "did you mean 'count'?" in out


def test_judge_examples_take_pass_and_fail(project, capsys):
    run(project, "eval", "new", "quality", "--score", "correct=It works")
    path = project.root / layout.judge_file("ffmpeg", "quality", "llm")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "kind: judge\nv: 1\ntype: llm_as_judge\nprovider: openai\nmodel: gpt-4o\nexamples:\n"
        "  - input: delete my clips\n    output: rm *.mp4\n    scores: {correct: fail}\n"
    )
    assert run(project, "validate") == 0, capsys.readouterr()
    assert Project(project.root).judges("ffmpeg", "quality")["llm"].examples[0].scores == {"correct": 0.0}


def test_schema_comments_resolve_in_a_fresh_clone(project, tmp_path):
    run(project, "eval", "new", "quality")
    run(
        project,
        "judge",
        "new",
        "quality",
        "has",
        "--type",
        "contains",
        "--score",
        "correct_command",
        "--pattern",
        "ffmpeg",
    )
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "defs")
    other = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project.root), str(other))
    assert not (other / ".kilngit").exists()
    yamls = [p for p in other.rglob("*.yaml") if ".git" not in p.parts]
    assert len(yamls) >= 5
    for path in yamls:
        m = re.search(r"\$schema=(\S+)", path.read_text())
        assert m, path
        target = (path.parent / m.group(1)).resolve()
        assert target.is_file(), (path, m.group(1))
        kind = target.name.removesuffix(".schema.json")
        assert json.loads(target.read_text()) == json_schemas()[kind]  # kept in step with the models


@pytest.mark.parametrize("kind", ["exact_match"])
def test_judge_needs_table_matches_the_model(kind):
    from kilngit.records import Judge

    with pytest.raises(ValueError, match="needs"):
        Judge(type=kind)
