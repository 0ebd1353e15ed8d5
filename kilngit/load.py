"""Reading one record file: parse, check the format version, validate, and check that it sits where its
identity says. Every problem names the file, the field (a JSON pointer) and the fix.

`parse_record` is the single entry point used by the project loader and by `kilngit validate`;
`load_record` is its strict form for scripts.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kilngit import layout
from kilngit._io import (
    MAX_JSON_BYTES,
    MAX_YAML_BYTES,
    ReadError,
    check_depth,
    decode_utf8,
    load_json,
    read_bytes_and_stat,
)
from kilngit.cache import parsed_yaml
from kilngit.errors import InvalidRecordError, NewerFormatError, did_you_mean
from kilngit.kinds import KINDS
from kilngit.problems import Problem
from kilngit.records import FORMAT_VERSION, MachineRecord, Record
from kilngit.records.bulk_check import canonical_record
from kilngit.records.canonical import NotPlain, content_id, parse_plain, plain_content_id, to_file_bytes

__all__ = ["MIGRATIONS", "Parsed", "Problem", "load_record", "parse_record"]


@dataclass
class Parsed:
    """The outcome of reading one file: the record (None when unusable) and its problems."""

    relpath: str
    kind: str
    record: Record | None
    problems: list[Problem]
    params: dict[str, str] = field(default_factory=dict)
    """The path parts of its identity (see `layout.classify`)."""
    stat: os.stat_result | None = field(default=None, repr=False, compare=False)
    """The `fstat` of the file as it was read (None when it could not be read): what the cache keys it by."""


#: kind -> {older version -> function upgrading a raw dict by one version}. Empty while the format is v1.
MIGRATIONS: dict[str, dict[int, Any]] = {}

_FIXES = {
    "extra_forbidden": "remove this field (kilngit refuses unknown fields rather than dropping them; if a newer "
    "kilngit wrote it, upgrade kilngit)",
    "missing": "add this field",
    "literal_error": "use one of the allowed values",
}


def parse_record(
    root: Path, relpath: str, located: layout.Located | None = None, *, full: bool = True
) -> Parsed:
    """Read and validate the record file at `relpath` (POSIX, relative to `root`).

    With `full=False` the content hash and canonical bytes are not re-checked (the schema still is): that is
    how the project loader reads, leaving the rest to `kilngit validate`."""
    located = located or layout.classify(relpath)
    if located is None:
        return Parsed(
            relpath,
            "unknown",
            None,
            [
                Problem(
                    relpath,
                    "no record kind lives at this path",
                    "move the file to the path its kind uses (see docs/format.md) or remove it",
                )
            ],
        )
    top = os.fspath(root)
    # `os.path.join` spelled out for the usual case (a relative path under a root not ending in a slash):
    # a tenth of the cost, once per file of a cold validate.
    path = (
        top + "/" + relpath
        if top[-1:] not in ("/", "") and relpath[:1] != "/"
        else os.path.join(top, relpath)
    )
    try:
        raw, st = read_bytes_and_stat(path, top, MAX_YAML_BYTES if located.yaml else MAX_JSON_BYTES)
    except ReadError as e:
        return Parsed(relpath, located.kind, None, [Problem(relpath, str(e), e.fix)])
    parsed = _parse_bytes(root, relpath, located, raw, full)
    parsed.stat = st
    return parsed


def _parse_bytes(root: Path, relpath: str, located: layout.Located, raw: bytes, full: bool) -> Parsed:
    kind = located.kind
    try:
        if full and not located.yaml:
            fast = _read_canonical(relpath, located, raw)
            if fast is not None:
                return fast
        data = _parse(root, raw, located.yaml)
    except ReadError as e:
        return Parsed(relpath, kind, None, [Problem(relpath, str(e), e.fix)])

    problems: list[Problem] = []
    if not isinstance(data, dict):
        return Parsed(
            relpath,
            kind,
            None,
            [Problem(relpath, f"expected a {kind} record (a mapping)", f"write a mapping with kind: {kind}")],
        )
    if data.get("kind") != kind:
        return Parsed(
            relpath,
            kind,
            None,
            [
                Problem(
                    relpath,
                    f"kind is {data.get('kind')!r} but this path holds {kind} records",
                    f"set kind: {kind}, or move the file to where {data.get('kind')} records live",
                    "/kind",
                )
            ],
        )
    data, version_problem = _upgrade(relpath, kind, data)
    if version_problem:
        return Parsed(relpath, kind, None, [version_problem])
    try:
        record = KINDS[kind].model.model_validate(data)
    except ValidationError as e:
        return Parsed(relpath, kind, None, _validation_problems(relpath, e, KINDS[kind].model))

    if not full:
        return Parsed(relpath, kind, record, problems, located.params)
    canonical = None if located.yaml else record.to_data()
    problems += _identity_problems(relpath, record, located.params, canonical)
    problems += _shard_problems(relpath, kind, located)
    if canonical is not None and not problems and to_file_bytes(canonical) != raw:
        problems.append(
            Problem(
                relpath,
                "file is not in canonical form (sorted keys, 2-space indent)",
                "run `kilngit validate --fix` to rewrite it canonically",
                severity="warning",
                code="not_canonical",
            )
        )
    return Parsed(relpath, kind, record, problems, located.params)


def _read_canonical(relpath: str, located: layout.Located, raw: bytes) -> Parsed | None:
    """The fast path of a full read, for the common file: one in canonical form, of this kilngit's format
    version, that passes its schema. None for any other file, which the strict reader then reads.

    A file that is the canonical bytes of the record parsed from it has no duplicate key, no NaN or
    infinity and no number too big for a float (the canonical form holds none: `to_file_bytes` refuses
    non-finite numbers); without a `\\u` escape, valid UTF-8 text holds no lone surrogate either. So the
    plain C parser reads the same data the strict one would, and the checks after parsing are the same.
    tests/test_load_fast.py compares both paths on random and hostile files."""
    if b"\\u" in raw:
        return None
    text = decode_utf8(raw)
    check_depth(text)
    # One parse for the schema and the content ID: integral floats come as ints, as the ID needs them. A
    # float field takes the int as that float; where an int stays an int the canonical bytes differ, and
    # the text is parsed again as written (and failing that, read by the strict reader).
    try:
        data, plain = parse_plain(text), True
    except NotPlain:
        data, plain = None, False
    except (ValueError, RecursionError):
        return None
    valid = _canonical(located, raw, data) if plain else None
    if valid is None:
        plain = False
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        valid = _canonical(located, raw, data)
        if valid is None:
            return None
    record, canonical = valid
    # The bytes are canonical, so every mapping's keys are in sorted order (and there is no `\u` escape).
    expected = (
        plain_content_id(data, text, keys_sorted=True)
        if plain and isinstance(record, MachineRecord)
        else None
    )
    problems = _identity_problems(relpath, record, located.params, canonical, expected)
    problems += _shard_problems(relpath, located.kind, located)
    return Parsed(relpath, located.kind, record, problems, located.params)


def _canonical(located: layout.Located, raw: bytes, data: Any) -> tuple[Record, dict[str, Any]] | None:
    """The record of `data` and its `to_data()`, when `raw` is exactly its canonical bytes."""
    if type(data) is not dict or data.get("kind") != located.kind or type(data.get("v")) is not int:
        return None
    if data["v"] != FORMAT_VERSION:
        return None
    quick = canonical_record(located.kind, data, raw)
    if quick is not None:
        return quick
    try:
        record = KINDS[located.kind].model.model_validate(data)
        canonical = record.to_data()
        if to_file_bytes(canonical) != raw:
            return None
    except (ValueError, RecursionError):  # ValidationError and JSONDecodeError are ValueErrors
        return None
    return record, canonical


def load_record(path: str | Path, root: str | Path | None = None) -> Record:
    """Load one record file and return it, raising `InvalidRecordError` on any error-level problem."""
    path = Path(path).absolute()
    root = Path(root).absolute() if root else _find_root(path)
    parsed = parse_record(root, path.relative_to(root).as_posix())
    errors = [p for p in parsed.problems if p.severity == "error"]
    if errors or parsed.record is None:
        p = errors[0]
        cls = NewerFormatError if "newer kilngit" in p.message else InvalidRecordError
        raise cls(p.path, p.message, p.pointer, p.fix)
    return parsed.record


def _find_root(path: Path) -> Path:
    for parent in path.parents:
        if (parent / layout.MANIFEST).is_file():
            return parent
    raise InvalidRecordError(str(path), "not inside a kilngit project", hint="pass root= explicitly")


def _parse(root: Path, raw: bytes, yaml: bool) -> Any:
    text = decode_utf8(raw)
    return parsed_yaml.load(root, raw, text) if yaml else load_json(text)


def _upgrade(relpath: str, kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], Problem | None]:
    v = data.get("v", FORMAT_VERSION)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        return data, Problem(
            relpath,
            f"format version v must be a positive integer, not {v!r}",
            f"set v: {FORMAT_VERSION}",
            "/v",
        )
    if v > FORMAT_VERSION:
        return data, Problem(
            relpath,
            f"written by a newer kilngit (format v{v}; this kilngit reads up to v{FORMAT_VERSION})",
            "upgrade kilngit: pip install -U kilngit",
            "/v",
        )
    while v < FORMAT_VERSION:
        data = MIGRATIONS[kind][v](data)
        v += 1
        data["v"] = v
    return data, None


def _shard_problems(relpath: str, kind: str, located: layout.Located) -> list[Problem]:
    """A sharded file must sit in the folders named by the first characters of its ID."""
    right = KINDS[kind].fill(located.params, located.layout or layout.LAYOUT)
    if right != relpath:
        return [
            Problem(
                relpath,
                f"sits in the wrong shard folder for its ID ({posixpath.dirname(right)}/)",
                f"move it to {right}",
            )
        ]
    return []


def _validation_problems(relpath: str, error: ValidationError, model: Any = None) -> list[Problem]:
    out = []
    for e in error.errors(include_url=False):
        pointer = "".join(f"/{part}" for part in e["loc"])
        fix = _FIXES.get(e["type"], "correct the value")
        if e["type"] == "extra_forbidden" and model is not None:
            fix = did_you_mean(str(e["loc"][-1]), _field_names(model, e["loc"][:-1])) + fix
        out.append(Problem(relpath, e["msg"], fix, pointer))
    return out


def _field_names(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names of the (nested) model at `loc` under `model`, for "did you mean" on a typo'd field."""
    for part in loc:
        if isinstance(part, int) or not hasattr(model, "model_fields"):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        candidates = [a for a in _flatten(field.annotation) if hasattr(a, "model_fields")]
        model = candidates[0] if candidates else None
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _flatten(annotation: Any) -> list[Any]:
    import typing

    args = typing.get_args(annotation)
    return [annotation] if not args else [x for a in args for x in _flatten(a)]


def _identity_problems(
    relpath: str,
    record: Record,
    params: dict[str, str],
    canonical: dict[str, Any] | None,
    expected: str | None = None,
) -> list[Problem]:
    """The record's own fields must agree with the identity its path encodes (the kind's `identity`).
    `expected`: the content ID, when the caller already knows it."""
    problems = []
    kind = KINDS[record.kind]
    fields = record.__dict__
    elsewhere = []
    try:
        parts = layout.identity_parts(kind, record)
    except ValueError as e:  # a rater name no folder can hold
        return [Problem(relpath, str(e), "use a shorter name (e.g. an email address)", "/rater")]
    for part, value in parts.items():
        name = kind.identity[part]
        if part == "id" or params.get(part) == value:
            continue  # a misnamed machine record is reported by its content hash below
        if part in ("task", "eval", "judge"):
            problems.append(
                Problem(
                    relpath,
                    f"{part} is {value!r} but the file sits under {params[part]!r}",
                    f"move the file under {value!r} or set {part}: {params[part]}",
                    f"/{part}",
                )
            )
        elif isinstance(fields[name], int):
            problems.append(
                Problem(
                    relpath,
                    f"{name} is {value} but the file is named {params[part]}",
                    f"move it to {layout.record_path(record)}",
                    f"/{name}",
                )
            )
        else:
            elsewhere.append(name)
    if elsewhere:
        own = ", ".join(n for p, n in kind.identity.items() if p not in ("task", "eval", "judge", "id"))
        problems.append(
            Problem(
                relpath,
                f"{record.kind.replace('_', ' ')} is not at the path of its ({own})",
                f"move it to {layout.record_path(record)}",
            )
        )
    if isinstance(record, MachineRecord):
        expected = expected or content_id(canonical if canonical is not None else record.to_data())
        if record.id != expected:
            problems.append(
                Problem(
                    relpath,
                    f"id {record.id!r} does not match the content hash {expected!r}",
                    "machine records are append-only: restore the original file, or write the "
                    "change as a new record (kilngit computes the id)",
                    "/id",
                )
            )
        elif params.get("id") != record.id:
            problems.append(
                Problem(
                    relpath,
                    f"file is named {params.get('id')} but holds record {record.id}",
                    f"move it to {layout.record_path(record)}",
                )
            )
    return problems
