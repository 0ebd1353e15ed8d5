"""The built-in JSON Schema checker."""

from __future__ import annotations

import pytest

from kilngit.runner.json_check import schema_errors

SCHEMA = {
    "type": "object",
    "required": ["cmd", "n"],
    "additionalProperties": False,
    "properties": {
        "cmd": {"type": "string", "minLength": 2, "pattern": "^ff"},
        "n": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "uniqueItems": True, "maxItems": 2},
        "opt": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pos"}]},
    },
    "$defs": {"pos": {"type": "number", "exclusiveMinimum": 0}},
}


@pytest.mark.parametrize(
    "value, problem",
    [
        ({"cmd": "ffmpeg", "n": 3, "tags": ["a"], "opt": None}, None),
        ({"cmd": "ffmpeg", "n": 3.0, "opt": 2.5}, None),
        ({"cmd": "ffmpeg"}, "missing required property 'n'"),
        ({"cmd": "ffmpeg", "n": True}, "/n: expected integer, got boolean"),
        ({"cmd": "ls", "n": 1}, "does not match pattern"),
        ({"cmd": "ffmpeg", "n": 10}, "is not < 10"),
        ({"cmd": "ffmpeg", "n": 1, "extra": 1}, "unexpected property 'extra'"),
        ({"cmd": "ffmpeg", "n": 1, "tags": ["a", "a"]}, "items must be unique"),
        ({"cmd": "ffmpeg", "n": 1, "tags": ["c"]}, "is not one of"),
        ({"cmd": "ffmpeg", "n": 1, "opt": -1}, "matches none of the anyOf"),
        ([1], "expected object, got array"),
    ],
)
def test_schema_errors(value, problem):
    errors = schema_errors(value, SCHEMA)
    if problem is None:
        assert errors == []
    else:
        assert any(problem in e for e in errors), errors


def test_one_of_and_not():
    assert schema_errors(5, {"oneOf": [{"type": "integer"}, {"type": "number"}]})  # matches both
    assert schema_errors("x", {"not": {"type": "string"}})
    assert not schema_errors("x", {"not": {"type": "integer"}})
