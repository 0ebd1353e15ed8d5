"""Field descriptions: `Field(description=...)`, else the docstring under the field in the model's source.

pydantic's `use_attribute_docstrings` would read and tokenize every model's source when the models are
imported, in every command; only the JSON Schemas (kilngit.schema) and commented YAML (kilngit.scaffold)
show descriptions, so they read the source here, once per module, when asked.
"""

from __future__ import annotations

import ast
import inspect
import sys
from functools import cache

from pydantic import BaseModel


def field_description(model: type[BaseModel], name: str) -> str | None:
    """The description of field `name` of `model`, as `use_attribute_docstrings` would give it."""
    info = model.model_fields.get(name)
    if info is not None and info.description is not None:
        return info.description
    for klass in model.__mro__:  # the docstring of the class that declares the field last, as pydantic
        if name in klass.__dict__.get("__annotations__", {}):
            return _class_docs(klass.__module__, klass.__qualname__).get(name)
    return None


@cache
def _class_docs(module: str, qualname: str) -> dict[str, str]:
    for node in _module_tree(module).body:
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
