"""The repo's schema/ folder must match the models: regenerate with `kilngit schema --out schema`."""

import json
from pathlib import Path

from kilngit.schema import json_schemas

SCHEMA_DIR = Path(__file__).parents[1] / "schema"


def test_schema_folder_matches_models():
    expected = json_schemas()
    on_disk = {
        p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")
    }
    assert sorted(on_disk) == sorted(expected), "run: kilngit schema --out schema"
    for kind, schema in expected.items():
        assert on_disk[kind] == schema, f"schema/{kind}.schema.json is stale: run kilngit schema --out schema"
