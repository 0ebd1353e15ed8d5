"""Paths given after `-C` are relative to the `-C` folder, as git reads them (`git -C DIR add FILE`)."""

import json

from kilngit.cli.main import main


def test_relative_paths_follow_dash_c(project, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root = str(project.root)

    assert main(["-C", root, "schema", "--out", "my-schema"]) == 0
    assert (project.root / "my-schema" / "task_run.schema.json").is_file()
    capsys.readouterr()

    assert main(["-C", root, "validate", "tasks", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True

    assert main(["-C", str(tmp_path), "init", "sub", "--name", "sub"]) == 0
    assert (tmp_path / "sub" / "kilngit.yaml").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing landed where kilngit was started


def test_absolute_paths_are_kept(project, tmp_path):
    out = tmp_path / "abs-schema"
    assert main(["-C", str(project.root), "schema", "--out", str(out)]) == 0
    assert (out / "task_run.schema.json").is_file()
