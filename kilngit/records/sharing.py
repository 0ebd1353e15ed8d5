"""Loaded records share what is equal, so a million of them fit in memory.

A pydantic instance carries, beside its `__dict__`, a `set` of the fields its input gave
(`__pydantic_fields_set__`, 200-700 bytes), and every nested value object (a run's `input_source`,
`output_source`, `usage`, an annotation's ratings) is an instance of its own with the same overhead. Most
records of one kind give the same fields, and most nested values repeat (one human source per person, one
output source per run config, a handful of ratings), so a `Sharing` table hands out one frozen fields set
per shape and one instance per distinct nested value. Nothing a record holds changes: its fields, its
`to_data()`, its bytes and ID are what they were (`==` ignores the fields set anyway).

What this changes for code holding a loaded record: assigning a field of the record itself still works (its
fields set is copied first, `Record.__setattr__`); assigning a field of a *shared nested value* raises
`TypeError`, since it would change every record sharing it: build a new value (`model_copy(update=...)`)
and assign that to the record instead.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

#: At most this many distinct values of one nested class are remembered (values that never repeat, like
#: exact token counts, would otherwise make the table cost more than it saves).
MAX_VALUES = 4096


class SharedFields(frozenset[str]):
    """The fields set of loaded records (or nested values) of one shape, shared by all of them. A copy is a
    plain `set` again (pydantic copies the fields set when it copies a model, then may add to it)."""

    __slots__ = ()

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> set[str]:
        return set(self)


def unshare_fields(model: BaseModel) -> None:
    """Give `model` a fields set of its own before a field of it is assigned (pydantic adds to it)."""
    fields = model.__pydantic_fields_set__
    if isinstance(fields, SharedFields):
        object.__setattr__(model, "__pydantic_fields_set__", set(fields))


class Sharing:
    """Tables of shared fields sets and nested values, for the records one project loads."""

    def __init__(self) -> None:
        self._fields: dict[frozenset[str], SharedFields] = {}
        self._values: dict[type, dict[Any, BaseModel]] = {}
        self._nested: dict[type, tuple[tuple[str, bool], ...]] = {}

    def record(self, record: BaseModel) -> None:
        """Make `record` share its fields set and its nested values (in place; its content is unchanged)."""
        self._share_fields(record)
        d = record.__dict__
        for name, in_dict in self._nested_fields(type(record)):
            value = d[name]
            if value is None:
                continue
            if in_dict:  # dict[str, value object], e.g. an annotation's per-requirement ratings
                for k, v in value.items():
                    value[k] = self.value(v)
            else:
                d[name] = self.value(value)

    def value(self, value: BaseModel) -> BaseModel:
        """The shared instance equal to the nested value `value` (`value` itself when it is the first)."""
        cls = type(value)
        fields = value.__pydantic_fields_set__
        values = tuple(value.__dict__.values())
        if 0 in values:  # 0.0 == -0.0 (and 0 == 0.0): tell them apart by their text
            key: Any = (frozenset(fields), tuple(map(repr, values)))
        else:
            try:
                key = (frozenset(fields), values, tuple(map(type, values)))  # types: 1 == 1.0 == True
                hash(key)
            except TypeError:  # a list inside (e.g. a source's topic path)
                key = (frozenset(fields), tuple(map(repr, values)))
        table = self._values.setdefault(cls, {})
        shared = table.get(key)
        if shared is not None:
            return shared
        if len(table) < MAX_VALUES:
            self._share_fields(value)
            table[key] = value
        return value

    def _share_fields(self, model: BaseModel) -> None:
        fields = model.__pydantic_fields_set__
        if isinstance(fields, SharedFields):
            return
        key = frozenset(fields)
        shared = self._fields.get(key)
        if shared is None:
            shared = self._fields[key] = SharedFields(key)
        object.__setattr__(model, "__pydantic_fields_set__", shared)

    def _nested_fields(self, cls: type) -> tuple[tuple[str, bool], ...]:
        """(field name, is a dict of values) of the fields of `cls` that hold value objects."""
        found = self._nested.get(cls)
        if found is None:
            fields = cls.model_fields.items()  # type: ignore[attr-defined]
            found = self._nested[cls] = tuple(
                (name, typing.get_origin(info.annotation) is dict)
                for name, info in fields
                if _value_class(info.annotation) is not None
            )
        return found


def _value_class(annotation: Any) -> type | None:
    """The value-object class a field annotation holds: `X`, `X | None` or `dict[str, X]`, X a flat model."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is dict:
        return _value_class(args[1])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _value_class(args[0]) if len(args) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and _flat(annotation):
        return annotation
    return None


def _flat(cls: type[BaseModel]) -> bool:
    """True for value objects holding plain values only (no nested models: those would need sharing too)."""
    return not any(
        isinstance(a, type) and issubclass(a, BaseModel)
        for info in cls.model_fields.values()
        for a in (info.annotation, *typing.get_args(info.annotation))
    )
