"""The one serializer for machine records, and the content hash that gives them their IDs.

Two forms of the same JSON value:

* file form (`to_file_bytes`): keys sorted by code point, two-space indent, UTF-8 without escaping, numbers
  in shortest round-trip form (0.0000935, 1e+21), a trailing newline. Every JSON record kilngit writes is
  exactly these bytes, so re-writing an unchanged record is a no-op.
* hash form (`jcs_bytes`): RFC 8785 (JSON Canonicalization Scheme). A record's ID is the first
  `ID_LENGTH` hex digits of SHA-256 over the hash form of the record without its `id` field.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import math
from typing import Any

import pydantic_core
import rfc8785

ID_LENGTH = 16
_MAX_SAFE_INT = 2**53


def to_file_bytes(value: Any) -> bytes:
    """Serialize `value` in kilngit's canonical file form."""
    # pydantic-core's serializer is Rust (json.dumps with indent falls back to pure Python, 4x slower).
    return pydantic_core.to_json(_sorted(value), indent=2) + b"\n"


#: Values that `_sorted` and `_jcs_compatible` return as they are (checked by exact type: it runs for every
#: value of every record a validate reads, and most are strings).
_LEAVES = frozenset({str, int, bool, type(None)})


def _sorted(value: Any) -> Any:
    if type(value) in _LEAVES:
        return value
    if isinstance(value, dict):
        return {k: v if type(v := value[k]) in _LEAVES else _sorted(v) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinity are not valid JSON")
    return value


def jcs_bytes(value: Any) -> bytes:
    """RFC 8785 canonical bytes of `value`.

    Uses the C `json` encoder when it provably gives the same bytes as RFC 8785 (integral floats written
    as integers, no float needing an exponent, ASCII keys) and the reference implementation otherwise.
    """
    fast = _jcs_compatible(value)
    if fast is None:
        return rfc8785.dumps(value)
    return _jcs_text(fast).encode()


_JCS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The C encoder `_JCS_ENCODER.encode` makes on every call, made once (a third of the encoding's cost, once
# per machine record of a cold validate). No circular-reference check: the values are parsed JSON or a
# record's `to_data()`, which hold no cycle.
_MAKE_C = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_JCS_C: Any = (
    _MAKE_C(None, _JCS_ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _MAKE_C is not None
    else None
)


def _jcs_text(value: Any) -> str:
    """`_JCS_ENCODER.encode(value)`."""
    return "".join(_JCS_C(value, 0)) if _JCS_C is not None else _JCS_ENCODER.encode(value)


def content_id(record: dict[str, Any]) -> str:
    """The content-addressed ID of a record dict (its `id` key, if any, is left out)."""
    body = {k: v for k, v in record.items() if k != "id"}
    return hashlib.sha256(jcs_bytes(body)).hexdigest()[:ID_LENGTH]


def file_content_id(text: str) -> str | None:
    """`content_id` of the record whose canonical file form (`to_file_bytes`) is `text`, or None when this
    shortcut cannot be sure (then ask `content_id`). It parses the text straight into `_jcs_compatible`'s
    result instead of walking the record: what a cold validate pays once per machine record."""
    try:
        body = parse_plain(text)
    except NotPlain:
        return None
    return plain_content_id(body, text)


def parse_plain(text: str) -> Any:
    """`json.loads(text)` with every integral float below 2**53 as an int, as `_jcs_compatible` turns it;
    raises `NotPlain` at a number JCS would write unlike Python's encoder (exponent form, NaN, infinity)."""
    # The decoder's scanner called as `decode` calls it, for a text starting with its value and ending
    # with it or a newline (every file kilngit writes); any other text, or a scan error, takes `decode`
    # itself, which gives the same value or raises the same error.
    try:
        value, end = _JCS_SCAN(text, 0)
    except StopIteration:
        return _JCS_DECODER.decode(text)
    if end == len(text) or (end == len(text) - 1 and text[end] == "\n"):
        return value
    return _JCS_DECODER.decode(text)


def plain_content_id(body: Any, text: str, *, keys_sorted: bool = False) -> str | None:
    """`content_id` of `body`, parsed by `parse_plain` from the file form `text`; None when `text` is not
    ASCII (a non-ASCII key sorts differently in JCS: UTF-16 code units) or `body` is not a mapping.

    `keys_sorted`: every mapping in `body` already has its keys in sorted order and `text` holds no `\\u`
    escape (as in a file that is its record's canonical bytes): then the compact JSON that pydantic-core
    writes in key order is the JCS text, written in a third of the time of the sorting encoder (its strings
    and numbers come out the same for such a body: ASCII, escapes `\\" \\\\ \\n \\t`..., floats in
    shortest round-trip form without exponent; tests/records/test_canonical.py compares the two)."""
    if type(body) is not dict or not text.isascii():
        return None
    body = dict(body)
    body.pop("id", None)  # (a copy less its id, in C; removing a key keeps the order of the others)
    if keys_sorted:
        return hashlib.sha256(pydantic_core.to_json(body)).hexdigest()[:ID_LENGTH]
    return hashlib.sha256(_jcs_text(body).encode()).hexdigest()[:ID_LENGTH]


class NotPlain(Exception):
    """A number `_jcs_compatible` would hand to the reference implementation."""


def _jcs_float(text: str) -> float | int:
    value = float(text)  # what json.loads makes of it, then what `_jcs_compatible` makes of that
    magnitude = abs(value)
    if 1e-4 <= magnitude < 1e16:  # finite, and `repr` writes it without an exponent: no need to ask it
        return int(value) if magnitude < _MAX_SAFE_INT and value.is_integer() else value
    if not math.isfinite(value):
        raise NotPlain
    if value.is_integer() and abs(value) < _MAX_SAFE_INT:
        return int(value)
    shown = repr(value)
    if "e" in shown or "E" in shown:
        raise NotPlain
    return value


def _not_plain(text: str) -> Any:
    raise NotPlain


_JCS_DECODER = json.JSONDecoder(parse_float=_jcs_float, parse_constant=_not_plain)
_JCS_SCAN = _JCS_DECODER.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__


def _jcs_compatible(value: Any) -> Any:
    """`value` with integral floats turned into ints, or None when the fast path could differ from JCS."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not k.isascii():
                return None  # JCS sorts by UTF-16 code units, Python by code points
            if type(v) in _LEAVES:
                out[k] = v
                continue
            c = _jcs_compatible(v)
            if c is None and v is not None:
                return None
            out[k] = c
        return out
    if isinstance(value, list):
        items = []
        for v in value:
            c = _jcs_compatible(v)
            if c is None and v is not None:
                return None
            items.append(c)
        return items
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < _MAX_SAFE_INT:
            return int(value)
        text = repr(value)
        if "e" in text or "E" in text:
            return None  # ECMAScript and Python disagree on exponent forms
        return value
    return value
