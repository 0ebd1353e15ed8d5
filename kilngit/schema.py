"""JSON Schema files generated from the record models (the repo's `schema/` folder holds them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from kilngit._io import atomic_write
from kilngit.kinds import KINDS
from kilngit.records import FORMAT_VERSION
from kilngit.records.canonical import to_file_bytes
from kilngit.records.field_docs import field_description


def json_schemas() -> dict[str, dict[str, Any]]:
    """kind -> JSON Schema of that record kind."""
    out = {}
    for kind, entry in KINDS.items():
        schema = entry.model.model_json_schema(schema_generator=_WithFieldDocs)
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


class _WithFieldDocs(GenerateJsonSchema):
    """Field docstrings as descriptions (kilngit.records.field_docs: the models leave them off at import)."""

    def model_schema(self, schema: Any) -> Any:
        out = super().model_schema(schema)
        for name, prop in out.get("properties", {}).items():
            doc = field_description(schema["cls"], name)
            if doc is not None and "description" not in prop:
                prop["description"] = doc
        return out
