"""Committed schema/ folders must match the models: regenerate with `kilngit schema --out <folder>`.

The repo's own schema/ and the example project's (which its YAML files' `$schema` comments point at, so
editor completion works in any clone) are both checked.
"""

import json
import re
from pathlib import Path

import pytest

from kilngit.schema import json_schemas

REPO = Path(__file__).parents[1]
EXAMPLE = REPO / "example_project"


@pytest.mark.parametrize("folder", [REPO / "schema", EXAMPLE / "schema"], ids=["repo", "example_project"])
def test_schema_folder_matches_models(folder):
    expected = json_schemas()
    fix = f"run: kilngit schema --out {folder.relative_to(REPO)}"
    on_disk = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert sorted(on_disk) == sorted(expected), fix
    for kind, schema in expected.items():
        assert on_disk[kind] == schema, f"{folder.name}/{kind}.schema.json is stale: {fix}"


def test_example_yaml_schema_comments_resolve():
    yamls = [p for p in EXAMPLE.rglob("*.yaml")]
    assert len(yamls) >= 10
    for path in yamls:
        m = re.search(r"\$schema=(\S+)", path.read_text())
        assert m, f"{path} has no $schema comment"
        assert (path.parent / m.group(1)).resolve().is_file(), f"{path}: {m.group(1)} does not exist"
