"""Rater names map to annotation folders one to one: no rating lands where validate rejects it, no two
people share a file."""

from __future__ import annotations

import json

import pytest

from kilngit import layout
from tests.hostile.conftest import a_run, kilngit

NAMES = [
    "élodie@example.fr",
    ".",
    "..",
    "../../etc",
    "x y",
    "x_y",
    "Alice@example.com",
    "alice@example.com",
    "alice+tag@example.com",
    "_x",
]


def test_folders_are_one_to_one():
    folders = [layout.rater_dir(n) for n in NAMES]
    assert len(set(folders)) == len(NAMES)
    for folder in folders:
        assert "/" not in folder and folder not in (".", "..")
        assert (
            layout.classify(layout.path("annotation", task="t", rater=folder, run="ab" + "0" * 14)).kind
            == "annotation"
        )


def test_every_name_rates_into_its_own_valid_file(eval_project):
    run = a_run(eval_project)
    root = eval_project.root
    for i, name in enumerate(NAMES):
        out = kilngit(root, "rate", run.id, "--fail" if i % 2 else "--pass", "--as", name)
        assert out.returncode == 0, out.stderr.decode()
    out = kilngit(root, "validate")
    assert out.returncode == 0, out.stdout.decode()
    files = list((root / "tasks/ffmpeg/annotations").rglob(f"{run.id}.json"))
    raters = sorted(json.loads(f.read_text())["rater"] for f in files)
    assert raters == sorted(set(NAMES) | {"bob@example.com"})  # alice re-rated her own file
    assert not (root.parent / "etc").exists()


@pytest.mark.parametrize("name", ["x" * 200, "a\nb"])
def test_a_name_no_folder_can_hold_is_a_usage_error(eval_project, name):
    out = kilngit(eval_project.root, "rate", a_run(eval_project).id, "--pass", "--as", name)
    assert out.returncode == 2, out.stderr.decode()
