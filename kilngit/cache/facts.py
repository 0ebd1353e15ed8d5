"""The facts kept per file: what reading it found (kind, problems of the file alone, whether it holds a
usable record) and what checking it against the rest of the project found, with what that check depended
on, so the check is redone only when one of those inputs changed.

A check's inputs are recorded as it runs (`Recording`): each "does this file exist" answer and the key of
each definition it read (the task's rating scale, an eval's scores). Cached cross-file problems are used only
while every one of those still holds; duplicates are never cached, only the key they are found by.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kilngit import layout
from kilngit.cache.keys import RACY, file_key, trusted_key
from kilngit.load import parse_record
from kilngit.problems import Problem
from kilngit.records import Record
from kilngit.references import References


@dataclass
class Facts:
    """What kilngit knows of one file without reading it again."""

    kind: str
    problems: list[Problem]
    """Problems of the file on its own (parse, schema, path, hash, canonical form)."""
    loadable: bool = False
    """It holds a record that passes its schema (what the project loader needs)."""
    checked: bool = False
    """No problem of its own, so it was checked against the project (`cross`, `deps`)."""
    cross: list[Problem] = field(default_factory=list)
    deps: list[list[Any]] = field(default_factory=list)
    run_key: list[str] | None = None
    """The identity of the work it records (two records sharing it are duplicates)."""
    text: str | None = field(default=None, compare=False, repr=False)
    """What it was decoded from: facts are stored twice (files, snapshot) and never changed once decoded,
    so `encode` gives that text back rather than encode a million facts again."""

    def encode(self) -> str:
        if self.text is not None:
            return self.text
        return _encode(
            [
                self.loadable,  # first, for `loadable_text`
                self.kind,
                _rows(self.problems),
                self.checked,
                _rows(self.cross),
                self.deps,
                self.run_key,
            ]
        )

    @classmethod
    def decode(cls, relpath: str, text: str) -> Facts:
        loadable, kind, problems, checked, cross, deps, run_key = json.loads(text)
        return cls(
            kind,
            _problems(relpath, problems),
            loadable,
            checked,
            _problems(relpath, cross),
            deps,
            run_key,
            text,
        )

    @staticmethod
    def loadable_text(text: str) -> bool:
        """`decode(text).loadable`, without decoding: the loader asks it once per record."""
        return text.startswith("[true,")

    @property
    def storable(self) -> bool:
        """False when a definition it depends on changed too recently to be keyed (see `keys`)."""
        # A loop, not any(<generator>) (SIM110): half the cost, asked twice per file of a cold run.
        for d in self.deps:  # noqa: SIM110
            if d[0] == "d" and d[2] == RACY:
                return False
        return True


_COMPACT = json.JSONEncoder(separators=(",", ":"))
# The C encoder `_COMPACT.encode` builds on every call, built once (facts are encoded once per file read).
# No circular-reference check: facts hold strings, numbers and lists of them.
_MAKE_C: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_COMPACT_C: Any = (
    _MAKE_C(None, _COMPACT.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _MAKE_C is not None
    else None
)


def _encode(value: list[Any]) -> str:
    """`_COMPACT.encode(value)`."""
    return "".join(_COMPACT_C(value, 0)) if _COMPACT_C is not None else _COMPACT.encode(value)


def _rows(problems: list[Problem]) -> list[list[str]]:
    return [[p.message, p.fix, p.pointer, p.severity, p.code] for p in problems]


def _problems(relpath: str, rows: list[list[str]]) -> list[Problem]:
    if not rows:
        return []  # the common case, a million times on a large project
    return [Problem(relpath, m, f, ptr, sev, code) for m, f, ptr, sev, code in rows]  # type: ignore[arg-type]


class Recording(References):
    """`References` that notes what each check asked (`take()` returns it and starts afresh)."""

    def __init__(self, root: Path, stamp_ns: int, files: Any = None, version: int = layout.LAYOUT) -> None:
        super().__init__(root, files, version)
        self.stamp_ns = stamp_ns
        self._keys: dict[str, str | None] = {}
        self._asked: list[list[Any]] = []

    def file_exists(self, relpath: str) -> bool:
        found = super().file_exists(relpath)
        self._asked.append(["e", relpath, found])
        return found

    def definition_at(self, relpath: str) -> Record | None:
        self._asked.append(["d", relpath, self.def_key(relpath)])
        return super().definition_at(relpath)

    def def_key(self, relpath: str) -> str | None:
        if relpath not in self._keys:
            self._keys[relpath] = file_key(os.path.join(self.root, relpath), self.stamp_ns)
        return self._keys[relpath]

    def take(self) -> list[list[Any]]:
        asked, self._asked = self._asked, []
        # No path asked twice (the common case): then no answer was, and the lists are this call's own.
        if len(asked) < 2 or len({d[1] for d in asked}) == len(asked):
            return asked
        once = {(d[0], d[1], d[2]): d for d in asked}
        if len(once) == len(asked):
            return asked
        return [list(d) for d in once.values()]  # once each, in order

    def forget(self) -> None:
        """Start afresh without `take`'s result."""
        self._asked = []

    def holds(self, deps: list[list[Any]]) -> bool:
        """Whether every answer a check got is still the answer (so its problems still stand)."""
        for what, relpath, answer in deps:
            if what == "e":
                if References.file_exists(self, relpath) != answer:
                    return False
            elif answer == RACY or self.def_key(relpath) != answer:
                return False
        return True


def compute(root: Path, relpath: str, ctx: Recording, records: dict[str, Record] | None = None) -> Facts:
    """Read and check one file from scratch (its record, when usable, goes to `records`)."""
    return _compute(root, relpath, ctx, records)[0]


def compute_keyed(root: Path, relpath: str, ctx: Recording) -> tuple[str | None, Facts]:
    """`compute`, with the file's cache key (`keys.trusted_key`, against `ctx.stamp_ns`). The key is the
    `fstat` of the descriptor the bytes were read from, taken before reading them, as `keys` asks: the same
    answer an `lstat` of the path just before would give, one system call less, and it describes exactly
    the bytes read. A file not read (no kind lives there, unreadable) is keyed by `lstat` of its path."""
    facts, st = _compute(root, relpath, ctx, None)
    if st is None:
        return file_key(os.path.join(root, relpath), ctx.stamp_ns), facts
    return trusted_key(st, ctx.stamp_ns), facts


def _compute(
    root: Path, relpath: str, ctx: Recording, records: dict[str, Record] | None
) -> tuple[Facts, os.stat_result | None]:
    if relpath.endswith(".yml"):
        problem = Problem(relpath, "kilngit files use the .yaml extension", "rename the file to .yaml")
        return Facts("unknown", [problem]), None
    located = layout.classify(relpath)
    parsed = parse_record(root, relpath, located)
    if located is not None and not located.fits(ctx.version):
        parsed.problems.append(_misplaced(relpath, located, ctx.version))
    facts = Facts(parsed.kind, parsed.problems, loadable=parsed.record is not None)
    if records is not None and parsed.record is not None:
        records[relpath] = parsed.record
    if parsed.record is not None and not parsed.problems:
        ctx.forget()
        facts.checked = True
        facts.cross = ctx.check(parsed)
        facts.deps = ctx.take()
        key = run_key(parsed.record)
        facts.run_key = list(key) if key else None
    return facts, parsed.stat


def _misplaced(relpath: str, located: layout.Located, version: int) -> Problem:
    return Problem(
        relpath,
        f"sits at its path in folder layout {located.layout or layout.LAYOUT}, but this project uses layout "
        f"{version} (kilngit.yaml)",
        "run `kilngit migrate` to move every file to the layout this kilngit writes",
    )


def run_key(record: Record) -> tuple[str, ...] | None:
    """(task, input, run config, sample) of a model-made run, or (judge hash, run, sample) of a judge result
    without error: two records sharing it are the same work done twice."""
    d = record.__dict__
    if record.kind == "judge_result":
        if d["error"] is not None:
            return None  # a failed judgement is retried: the retry is not a duplicate
        return ("judge_result", d["task"], d["eval"], d["judge"], d["judge_hash"], d["run"], str(d["sample"]))
    if record.kind != "task_run" or d["output_source"] is None or d["output_source"].run_config is None:
        return None
    return (
        d["task"],
        d["input"],
        d["output_source"].run_config,
        d["output_source"].run_config_hash or "",
        str(d["sample"]),
    )
