"""`kilngit split` through the real CLI entry point (in-process)."""

from __future__ import annotations

import json

from kilngit.cli.main import main
from kilngit.project import Project
from tests.finetune.helpers import add_runs


def test_split_new_materialize_show(project: Project, capsys):
    add_runs(project, 10)
    root = str(project.root)
    assert main(["-C", root, "split", "new", "s", "--part", "train=0.7,test=0.3", "--seed", "3"]) == 0
    assert main(["-C", root, "split", "materialize", "s"]) == 0
    assert "train 7, test 3" in capsys.readouterr().out
    assert main(["-C", root, "split", "show", "s", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parts"] == {"train": 7, "test": 3} and len(data["ids"]["test"]) == 3
    assert main(["-C", root, "split", "show", "nope"]) == 1
    assert "no split 'nope'" in capsys.readouterr().err
    assert main(["-C", root, "split", "new", "t", "--part", "train=0.5"]) == 2
