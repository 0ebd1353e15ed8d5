"""Checking a JSON value against a JSON Schema, without a third-party validator.

Covers the keywords task output schemas use: type, enum, const, properties, required, additionalProperties,
patternProperties, items / prefixItems, min/max Items and Length, uniqueItems, minimum / maximum (and the
exclusive forms), multipleOf, pattern, allOf / anyOf / oneOf / not, and local `$ref`s (`#/$defs/...`).
Unknown keywords (format, title, description...) are ignored, as JSON Schema allows.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def schema_errors(value: Any, schema: dict[str, Any] | bool, limit: int = 5) -> list[str]:
    """Why `value` does not match `schema` ("/path: reason"), at most `limit` reasons; [] when it matches."""
    errors: list[str] = []
    _check(value, schema, "", schema if isinstance(schema, dict) else {}, errors)
    return errors[:limit]


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            or (isinstance(value, float) and value.is_integer())
        )
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    cls = _TYPES.get(name)
    return cls is not None and isinstance(value, cls) and not (cls is not bool and isinstance(value, bool))


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref are supported, not {ref!r}")
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _check(value: Any, schema: Any, path: str, root: dict[str, Any], errors: list[str]) -> None:
    where = path or "/"
    if schema is True or schema == {}:
        return
    if schema is False:
        errors.append(f"{where}: no value is allowed here")
        return
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), path, root, errors)
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_is_type(value, t) for t in names):
            errors.append(f"{where}: expected {' or '.join(names)}, got {_kind(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {_short(value)} is not one of {_short(schema['enum'])}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: must be {_short(schema['const'])}")
    if isinstance(value, dict):
        _check_object(value, schema, path, root, errors)
    elif isinstance(value, list):
        _check_array(value, schema, path, root, errors)
    elif isinstance(value, str):
        _check_string(value, schema, where, errors)
    elif _is_type(value, "number"):
        _check_number(value, schema, where, errors)
    _check_combinators(value, schema, path, root, errors)


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], path: str, root: dict[str, Any], errors: list[str]
) -> None:
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{path or '/'}: missing required property {name!r}")
    props = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = f"{path}/{key}"
        matched = False
        if key in props:
            _check(item, props[key], sub, root, errors)
            matched = True
        for pattern, sub_schema in patterns.items():
            if re.search(pattern, key):
                _check(item, sub_schema, sub, root, errors)
                matched = True
        if not matched:
            if extra is False:
                errors.append(f"{path or '/'}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, sub, root, errors)
    _bounds(len(value), schema, "minProperties", "maxProperties", "properties", path or "/", errors)


def _check_array(
    value: list[Any], schema: dict[str, Any], path: str, root: dict[str, Any], errors: list[str]
) -> None:
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        if i < len(prefix):
            _check(item, prefix[i], f"{path}/{i}", root, errors)
        elif "items" in schema:
            _check(item, schema["items"], f"{path}/{i}", root, errors)
    _bounds(len(value), schema, "minItems", "maxItems", "items", path or "/", errors)
    if schema.get("uniqueItems"):
        seen = [json.dumps(v, sort_keys=True) for v in value]
        if len(seen) != len(set(seen)):
            errors.append(f"{path or '/'}: items must be unique")


def _check_string(value: str, schema: dict[str, Any], where: str, errors: list[str]) -> None:
    _bounds(len(value), schema, "minLength", "maxLength", "characters", where, errors)
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {_short(value)} does not match pattern {schema['pattern']!r}")


def _check_number(value: float, schema: dict[str, Any], where: str, errors: list[str]) -> None:
    checks = (
        ("minimum", lambda v, b: v >= b, ">="),
        ("maximum", lambda v, b: v <= b, "<="),
        ("exclusiveMinimum", lambda v, b: v > b, ">"),
        ("exclusiveMaximum", lambda v, b: v < b, "<"),
    )
    for key, ok, op in checks:
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool) and not ok(value, bound):
            errors.append(f"{where}: {value} is not {op} {bound}")
    step = schema.get("multipleOf")
    if step and abs(value / step - round(value / step)) > 1e-9:
        errors.append(f"{where}: {value} is not a multiple of {step}")


def _check_combinators(
    value: Any, schema: dict[str, Any], path: str, root: dict[str, Any], errors: list[str]
) -> None:
    where = path or "/"
    for sub in schema.get("allOf", []):
        _check(value, sub, path, root, errors)
    if "anyOf" in schema and not any(_matches(value, s, path, root) for s in schema["anyOf"]):
        errors.append(f"{where}: matches none of the anyOf choices")
    if "oneOf" in schema:
        count = sum(_matches(value, s, path, root) for s in schema["oneOf"])
        if count != 1:
            errors.append(f"{where}: matches {count} of the oneOf choices instead of exactly one")
    if "not" in schema and _matches(value, schema["not"], path, root):
        errors.append(f"{where}: matches a schema it must not match")


def _matches(value: Any, schema: Any, path: str, root: dict[str, Any]) -> bool:
    found: list[str] = []
    _check(value, schema, path, root, found)
    return not found


def _bounds(
    size: int, schema: dict[str, Any], low: str, high: str, unit: str, where: str, errors: list[str]
) -> None:
    if low in schema and size < schema[low]:
        errors.append(f"{where}: has {size} {unit}, fewer than {schema[low]}")
    if high in schema and size > schema[high]:
        errors.append(f"{where}: has {size} {unit}, more than {schema[high]}")


def _kind(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name) and not (name == "integer" and isinstance(value, float)):
            return name
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
