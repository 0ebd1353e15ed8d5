"""JSON Schema files generated from the record models (the repo's `schema/` folder holds them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kilngit._io import atomic_write
from kilngit.kinds import KINDS
from kilngit.records import FORMAT_VERSION
from kilngit.records.canonical import to_file_bytes


def json_schemas() -> dict[str, dict[str, Any]]:
    """kind -> JSON Schema of that record kind."""
    out = {}
    for kind, entry in KINDS.items():
        schema = entry.model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"kilngit/v{FORMAT_VERSION}/{kind}.schema.json"
        out[kind] = schema
    return out


def write_schemas(folder: str | Path) -> list[Path]:
    """Write one `<kind>.schema.json` per kind into `folder`; returns the files written or unchanged."""
    folder = Path(folder)
    paths = []
    for kind, schema in json_schemas().items():
        path = folder / f"{kind}.schema.json"
        atomic_write(path, to_file_bytes(schema))
        paths.append(path)
    return paths
