"""JSON Schema files generated from the record models (the repo's `schema/` folder holds them)."""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from kilngit._io import atomic_write
from kilngit.kinds import KINDS
from kilngit.records import FORMAT_VERSION
from kilngit.records.canonical import to_file_bytes


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
    """Field docstrings (the string under a field) as descriptions, as pydantic's `use_attribute_docstrings`
    gives, which the models leave off: it reads and tokenizes their source at import, in every command."""

    def model_schema(self, schema: Any) -> Any:
        out = super().model_schema(schema)
        properties = out.get("properties", {})
        for name, prop in properties.items():
            doc = _field_doc(schema["cls"], name)
            if doc is not None and "description" not in prop:
                prop["description"] = doc
        return out


def _field_doc(cls: type, name: str) -> str | None:
    """The docstring of field `name` in the class that declares it last (as pydantic reads it)."""
    for klass in cls.__mro__:
        if name in klass.__dict__.get("__annotations__", {}):
            return _class_docs(klass.__module__, klass.__qualname__).get(name)
    return None


@cache
def _class_docs(module: str, qualname: str) -> dict[str, str]:
    tree = _module_tree(module)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == qualname:
            docs = {}
            for field, after in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(field, ast.AnnAssign)
                    and isinstance(field.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[field.target.id] = inspect.cleandoc(after.value.value)
            return docs
    return {}


@cache
def _module_tree(module: str) -> ast.Module:
    return ast.parse(inspect.getsource(sys.modules[module]))
