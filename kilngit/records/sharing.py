"""Loaded records share what is equal, so a million of them fit in memory.

A pydantic instance carries, beside its `__dict__`, a `set` of the fields its input gave
(`__pydantic_fields_set__`, 200-700 bytes), and every nested value object (a run's `input_source`,
`output_source`, `usage`, an annotation's ratings) is an instance of its own with the same overhead. Most
records of one kind give the same fields, and most nested values repeat (one human source per person, one
output source per run config, a handful of ratings), so a `Sharing` table hands out one frozen fields set
per shape and one instance per distinct nested value. Nothing a record holds changes: its fields, its
`to_data()`, its bytes and ID are what they were (`==` ignores the fields set anyway).

Lists and dicts of plain values (a run's `tags`, an annotation's `tags_added`, a judge result's `scores`)
and empty ones of any kind are shared the same way, as `FrozenList` / `FrozenDict`: a `list` / `dict` for
every reader (`==`, `isinstance`, JSON, pydantic), whose copies are plain again.

What this changes for code holding a loaded record: assigning a field of the record itself still works (its
fields set is copied first, `Record.__setattr__`); assigning a field of a *shared nested value*, or
changing a shared list or dict in place (`run.tags.append(...)`), raises `TypeError`, since it would change
every record sharing it: build a new value (`model_copy(update=...)`, `run.tags + [...]`) and assign that to
the record instead.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

from pydantic import BaseModel

#: At most this many distinct values of one nested class are remembered (values that never repeat, like
#: exact token counts, would otherwise make the table cost more than it saves).
MAX_VALUES = 4096


_FIX = "assign a new value to the record instead (e.g. record.tags = [*record.tags, tag])"


def _frozen(self: object, *args: object, **kwargs: object) -> Any:
    raise TypeError(
        f"this {type(self).__name__} is shared by every loaded record holding an equal one "
        f"(kilngit.records.sharing): {_FIX}"
    )


class FrozenList(list[Any]):
    """A list field of loaded records, shared by those holding an equal one: read like a list, changed
    never (`TypeError`); a copy is a plain `list`. Its items are plain values (strings, numbers)."""

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _frozen
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _frozen

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return list(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))


class FrozenDict(dict[str, Any]):
    """A dict field of loaded records, shared as `FrozenList` is: read like a dict, changed never. Its
    values are plain values, or shared nested values (which are never changed either)."""

    __slots__ = ()
    pop = popitem = clear = update = setdefault = _frozen
    __setitem__ = __delitem__ = __ior__ = _frozen

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


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
    """Tables of shared fields sets, nested values and containers, for the records one project loads."""

    def __init__(self) -> None:
        self._fields: dict[frozenset[str], SharedFields] = {}
        self._values: dict[Any, dict[Any, Any]] = {}
        self._plans: dict[type, tuple[tuple[str, str], ...]] = {}
        self._empty = {"list": FrozenList(), "dict": FrozenDict()}

    def record(self, record: BaseModel) -> None:
        """Make `record` share its fields set, nested values and containers (in place; its content is
        unchanged)."""
        self._share_fields(record)
        d = record.__dict__
        cls = type(record)
        for name, how in self._plan(cls):
            value = d[name]
            if value is None:
                continue
            if how == "value":
                d[name] = self.value(value)
            elif not value:  # the most common list or dict of all: an empty one
                d[name] = self._empty["list" if how == "list" else "dict"]
            elif how == "values":  # dict[str, value object], e.g. an annotation's per-requirement ratings
                shared = {k: self.value(v) for k, v in value.items()}
                key = tuple((k, self._value_key(v)) for k, v in shared.items())
                d[name] = self._shared((cls, name), key, shared, FrozenDict)
            elif how == "list":
                d[name] = self._shared((cls, name), _plain_key(tuple(value)), value, FrozenList)
            elif how == "dict":
                key = (tuple(value), _plain_key(tuple(value.values())))
                d[name] = self._shared((cls, name), key, value, FrozenDict)

    def value(self, value: BaseModel) -> BaseModel:
        """The shared instance equal to the nested value `value` (`value` itself when it is the first)."""
        table = self._values.setdefault(type(value), {})
        key = self._value_key(value)
        shared = table.get(key)
        if shared is not None:
            return shared  # type: ignore[no-any-return]
        if len(table) < MAX_VALUES:
            self._share_fields(value)
            table[key] = value
        return value

    @staticmethod
    def _value_key(value: BaseModel) -> Any:
        return (frozenset(value.__pydantic_fields_set__), _plain_key(tuple(value.__dict__.values())))

    def _shared(self, where: Any, key: Any, value: Any, frozen: type) -> Any:
        """The shared frozen container equal to `value` (a new one when it is the first; `value` itself
        once the table of `where` is full)."""
        table = self._values.setdefault(where, {})
        shared = table.get(key)
        if shared is None:
            if len(table) >= MAX_VALUES:
                return value
            shared = table[key] = frozen(value)
        return shared

    def _share_fields(self, model: BaseModel) -> None:
        fields = model.__pydantic_fields_set__
        if isinstance(fields, SharedFields):
            return
        key = frozenset(fields)
        shared = self._fields.get(key)
        if shared is None:
            shared = self._fields[key] = SharedFields(key)
        object.__setattr__(model, "__pydantic_fields_set__", shared)

    def _plan(self, cls: type) -> tuple[tuple[str, str], ...]:
        """(field name, how it is shared) of the fields of `cls` holding what can be shared: "value" (a
        value object), "values" (a dict of them), "list" / "dict" (of plain values), "empty" (any other
        list or dict: shared only when empty)."""
        found = self._plans.get(cls)
        if found is None:
            found = self._plans[cls] = tuple(
                (name, how)
                for name, info in cls.model_fields.items()  # type: ignore[attr-defined]
                if (how := _how(info.annotation)) is not None
            )
        return found


def _plain_key(values: tuple[Any, ...]) -> Any:
    """A key equal for equal plain values only: 1, 1.0 and True apart, and 0.0 apart from -0.0 (their
    bytes differ); lists inside by their text."""
    if 0 in values:  # 0.0 == -0.0 (and 0 == 0.0): tell them apart by their text
        return tuple(map(repr, values))
    key = (values, tuple(map(type, values)))
    try:
        hash(key)
    except TypeError:  # a list inside (e.g. a source's topic path)
        return tuple(map(repr, values))
    return key


_PLAIN = (str, int, float, bool)


def _how(annotation: Any) -> str | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _how(args[0]) if len(args) == 1 else None
    if origin is list:
        return "list" if args and args[0] in _PLAIN else "empty"
    if origin is dict:
        if _value_class(args[1]) is not None:
            return "values"
        return "dict" if args[1] in _PLAIN else "empty"
    return "value" if _value_class(annotation) is not None else None


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
