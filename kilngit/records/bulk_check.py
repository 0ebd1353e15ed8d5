"""A quick schema and canonical-form check for the bulk kinds (task runs, annotations, judge results), the
files a cold `kilngit validate` reads by the hundred thousand.

    found = canonical_record("task_run", data, raw)   # (record, its to_data()) or None

It accepts only what pydantic's validation would accept *and* what `to_file_bytes` would write back as
`raw` exactly, so it returns the record `Model.model_validate(data)` makes (same fields, same types, same
fields set, same nested models) and its `to_data()`. Anything it is not sure of gives None, and the caller
goes the full way (pydantic, then the canonical bytes), which is where every error and its text come from.

Why it can be this simple: a canonical file never holds a `null` field (`to_data` leaves `None` out), every
field with a default other than `None` is written, and every mapping's keys are sorted. Checking those, the
exact JSON types (no bool for an int, ints as floats only in float fields) and the models' own "after"
validators (called as they are, not copied) is the schema; `pydantic_core.to_json` of the data, already in
file order, then proves the bytes without the sorting walk. The field table is read from the models, so a
field added to a model is checked here too, and a model using anything this module does not know (another
type, a field validator, an alias, a constraint other than `ge`) is never answered here.
tests/records/test_bulk_check.py compares it with pydantic on random and hostile input.
"""

from __future__ import annotations

import math
import operator
import types
import typing
from collections.abc import Callable
from typing import Any

import annotated_types
import pydantic_core
from pydantic import BaseModel

from kilngit.records.annotation import Annotation
from kilngit.records.base import Record
from kilngit.records.evals import JudgeResult
from kilngit.records.run import TaskRun

__all__ = ["canonical_record"]

_MODELS: dict[str, type[Record]] = {
    "task_run": TaskRun,
    "annotation": Annotation,
    "judge_result": JudgeResult,
}
_MAX_INT = 2**63  # bigger ints are left to pydantic
_MAX_EXACT = 2**53  # an int a float field takes as exactly that float
_CONFIG = {"extra", "validate_assignment", "defer_build"}


class _No(Exception):
    """Not answered here: the caller validates the full way."""


class _Unsupported(Exception):
    """A model uses something this module does not check."""


Check = Callable[[Any], tuple[Any, Any]]
"""A field's check: the JSON value -> (the value the record holds, the value its `to_data()` holds)."""


def canonical_record(kind: str, data: Any, raw: bytes) -> tuple[Record, dict[str, Any]] | None:
    """(record, `record.to_data()`) when `data` (parsed from `raw`) is a valid `kind` record whose
    canonical file bytes are `raw`; None when not, or not sure."""
    check = _check_of(kind)
    if check is None:
        return None
    try:
        record, canonical = check(data)
        if pydantic_core.to_json(canonical, indent=2) + b"\n" != raw:
            return None
    except Exception:  # _No, or what a validator raised: pydantic says what is wrong
        return None
    return record, canonical


_CHECKS: dict[str, Check | None] = {}


def _check_of(kind: str) -> Check | None:
    if kind not in _CHECKS:
        model = _MODELS.get(kind)
        try:
            _CHECKS[kind] = _model(model) if model is not None else None
        except _Unsupported:
            _CHECKS[kind] = None
    return _CHECKS[kind]


def _model(cls: type[BaseModel]) -> Check:
    config = cls.model_config
    if config.get("extra") != "forbid" or set(config) - _CONFIG:
        raise _Unsupported(cls)
    decorators = cls.__pydantic_decorators__
    if (
        decorators.field_validators
        or decorators.validators
        or decorators.root_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
        or any(d.info.mode != "after" for d in decorators.model_validators.values())
        or cls.__private_attributes__
    ):
        raise _Unsupported(cls)
    after = [d.func for d in decorators.model_validators.values()]
    # Fields grouped by what their check is, so most are checked by C loops (`issuperset(map(type, ...))`)
    # rather than a call per field: this runs once per file of a cold validate.
    strs: list[str] = []
    ints: list[tuple[str, Any]] = []  # (name, its ge bound or None)
    floats: list[tuple[str, Any]] = []
    literals: list[tuple[str, frozenset[str]]] = []
    others: list[tuple[str, Check]] = []
    needed = set()
    for name, info in cls.model_fields.items():
        if info.alias or info.validation_alias or info.default_factory is not None:
            raise _Unsupported(cls, name)
        ge = None
        for m in info.metadata:
            if not isinstance(m, annotated_types.Ge):
                raise _Unsupported(cls, name, m)
            ge = m.ge
        annotation = _optional(info.annotation)
        if annotation is str and ge is None:
            strs.append(name)
        elif annotation is int:
            ints.append((name, ge))
        elif annotation is float:
            floats.append((name, ge))
        elif typing.get_origin(annotation) is typing.Literal and ge is None:
            literals.append((name, _literal_values(annotation)))
        elif ge is None:
            others.append((name, _type(annotation)))
        else:
            raise _Unsupported(cls, name, ge)
        if info.default is not None:
            needed.add(name)  # required, or written by `to_data` whenever left out
    known = frozenset(cls.model_fields)
    empty = dict.fromkeys(cls.model_fields)
    new, set_attr = cls.__new__, object.__setattr__
    # BaseModel's slots set through their descriptors: a quarter cheaper than `object.__setattr__`.
    slots = BaseModel.__dict__
    for slot in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        if next(c.__dict__[slot] for c in cls.__mro__ if slot in c.__dict__) is not slots[slot]:
            raise _Unsupported(cls, slot)
    set_fields = slots["__pydantic_fields_set__"].__set__
    set_extra = slots["__pydantic_extra__"].__set__
    set_private = slots["__pydantic_private__"].__set__

    def plan(keys: tuple[str, ...]) -> Check | None:
        """The check of a mapping with these keys (in file order), or None when no such mapping passes:
        keys unknown, unsorted or missing a needed field. It checks only the fields present (every one of
        them holds a value: a null is refused before it runs)."""
        if not (known.issuperset(keys) and needed.issubset(keys) and list(keys) == sorted(keys)):
            return None
        here = set(keys)
        p_strs = [n for n in strs if n in here]
        p_ints = [(n, ge) for n, ge in ints if n in here]
        p_floats = [(n, ge) for n, ge in floats if n in here]
        p_literals = [(n, allowed) for n, allowed in literals if n in here]
        p_others = [(n, c) for n, c in others if n in here]
        # One name repeated, so that it gives a tuple even for one name.
        str_values = operator.itemgetter(*p_strs, *p_strs[:1]) if p_strs else lambda _: ()
        copy = bool(p_floats or p_others)  # else no value changes: the canonical mapping is `data` itself

        def check_shape(data: dict[str, Any]) -> tuple[Any, Any]:
            if not _STR.issuperset(map(type, str_values(data))):
                raise _No
            for name, ge in p_ints:
                value = data[name]
                if (
                    type(value) is not int
                    or not -_MAX_INT < value < _MAX_INT
                    or (ge is not None and value < ge)
                ):
                    raise _No
            for name, allowed in p_literals:
                value = data[name]
                if type(value) is not str or value not in allowed:
                    raise _No
            values = dict(empty)
            values.update(data)
            canonical = dict(data) if copy else data
            for name, ge in p_floats:
                value = values[name] = canonical[name] = _float(data[name])
                if ge is not None and not value >= ge:
                    raise _No
            for name, check_value in p_others:
                values[name], canonical[name] = check_value(data[name])
            record = new(cls)
            set_attr(record, "__dict__", values)
            set_fields(record, set(keys))
            set_extra(record, None)
            set_private(record, None)
            for validator in after:
                validator(record)
            return record, canonical

        return check_shape

    # What a mapping's check is depends on its keys (in file order) alone, and nearly every file of a kind
    # has the same few key lists: the check is made once per key list (a bounded number of them, so a
    # hostile project cannot grow it).
    shapes: dict[tuple[str, ...], Check | None] = {}

    def check(data: Any) -> tuple[Any, Any]:
        if type(data) is not dict:
            raise _No
        keys = tuple(data)
        try:
            check_shape = shapes[keys]
        except KeyError:
            check_shape = plan(keys)
            if len(shapes) < _SHAPES:
                shapes[keys] = check_shape
        if check_shape is None or None in data.values():
            raise _No
        return check_shape(data)

    return check


_SHAPES = 64
"""How many key lists a model's check remembers the answer for."""


def _optional(annotation: Any) -> Any:
    """`X` of `X | None` (a canonical file holds no null, so the field holds an `X` or is left out)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise _Unsupported(annotation)
        return rest[0]
    return annotation


def _literal_values(annotation: Any) -> frozenset[str]:
    values = typing.get_args(annotation)
    if not all(type(a) is str for a in values):
        raise _Unsupported(annotation)
    return frozenset(values)


def _type(annotation: Any) -> Check:
    """The check of a value of `annotation` inside a list or mapping, or of a nested model."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is str:
        return _str
    if annotation is float:
        return lambda value: (v := _float(value), v)
    if origin is list and args == (str,):
        return _str_list
    if origin is dict and args[0] is str:
        if args[1] is Any:
            return _any_dict
        if args[1] is str:
            return _str_dict
        return _dict(_type(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model(annotation)
    raise _Unsupported(annotation)


def _str(value: Any) -> tuple[Any, Any]:
    if type(value) is not str:
        raise _No
    return value, value


def _float(value: Any) -> float:
    """The float a float field holds for a JSON number."""
    if type(value) is int:  # an integral float as the one parse gives it (`canonical.parse_plain`)
        if not -_MAX_EXACT < value < _MAX_EXACT:
            raise _No
        return float(value)
    if type(value) is not float or not math.isfinite(value):
        raise _No
    return float(value)


def _str_list(value: Any) -> tuple[Any, Any]:
    if type(value) is not list or not _STR.issuperset(map(type, value)):
        raise _No
    return value, value


def _str_dict(value: Any) -> tuple[Any, Any]:
    if (
        type(value) is not dict
        or list(value) != sorted(value)
        or not _STR.issuperset(map(type, value.values()))
    ):
        raise _No
    return dict(value), value


_STR = frozenset({str})


def _dict(check: Check) -> Check:
    def mapping(value: Any) -> tuple[Any, Any]:
        if type(value) is not dict:
            raise _No
        if not value:
            return {}, {}
        keys = list(value)
        if keys != sorted(keys):
            raise _No
        held, canonical = {}, {}
        for key in keys:
            held[key], canonical[key] = check(value[key])
        return held, canonical

    return mapping


def _any_dict(value: Any) -> tuple[Any, Any]:
    if type(value) is not dict:
        raise _No
    _plain(value)
    return dict(value), value


def _plain(value: Any) -> None:
    """A JSON value `to_file_bytes` writes as it is: sorted keys, finite floats."""
    kind = type(value)
    if kind is dict:
        keys = list(value)
        if keys != sorted(keys):
            raise _No
        for item in value.values():
            _plain(item)
    elif kind is list:
        for item in value:
            _plain(item)
    elif kind is float:
        if not math.isfinite(value):
            raise _No
    elif kind not in (str, int, bool, type(None)):
        raise _No
