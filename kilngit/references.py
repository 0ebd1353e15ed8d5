"""Checking a record against the rest of the project, as its kind declares (kilngit.kinds): the task it
belongs to and the records its `refs` name exist (by the paths their identities imply), and its kind's
`check` passes. `References` implements the `kilngit.kind_checks.Context` the checks ask.

With `files` (the regular files a full scan found under tasks/) existence is a set lookup, not a stat:
at a million records that is most of the time of a warm `validate`.
"""

from __future__ import annotations

import os
from collections.abc import Set
from pathlib import Path

from kilngit import layout
from kilngit.kinds import KINDS
from kilngit.load import Parsed, Problem, parse_record
from kilngit.records import Record


class References:
    """What a check may ask about the project at `root` (`kind_checks.Context`)."""

    def __init__(self, root: Path, files: Set[str] | None = None, version: int = layout.LAYOUT) -> None:
        self.root = root
        self.files = files
        self.version = version
        """The project's folder layout, whose paths references follow."""
        self._defs: dict[str, Record | None] = {}
        self._task_files: dict[str, str] = {}
        """Task name -> the path of its task.yaml (filled once per task: asked for every record checked)."""

    def file_exists(self, relpath: str) -> bool:
        if self.files is not None and relpath.startswith("tasks/"):
            return relpath in self.files
        return os.path.isfile(self.root / relpath)

    def exists(self, kind: str, **parts: str) -> bool:
        return self.file_exists(KINDS[kind].fill(parts, self.version))

    def definition(self, kind: str, **parts: str) -> Record | None:
        return self.definition_at(KINDS[kind].fill(parts, self.version))

    def definition_at(self, relpath: str) -> Record | None:
        """The record at `relpath`, parsed once per `References` (None when missing or invalid)."""
        if relpath not in self._defs:
            parsed = parse_record(self.root, relpath) if self.file_exists(relpath) else None
            self._defs[relpath] = parsed.record if parsed else None
        return self._defs[relpath]

    def check(self, parsed: Parsed) -> list[Problem]:
        """The problems of a valid record with the rest of the project."""
        record, path, params = parsed.record, parsed.relpath, parsed.params
        assert record is not None
        kind = KINDS[record.kind]
        task = params.get("task")
        if task and kind.name != "task":
            task_file = self._task_files.get(task)
            if task_file is None:
                task_file = self._task_files[task] = KINDS["task"].fill({"task": task}, self.version)
            if not self.file_exists(task_file):
                return [Problem(path, f"task {task!r} does not exist", f"create {layout.task_file(task)}")]
        out = []
        for ref in kind.refs:
            value = ref.value(record)
            if value is None:
                continue
            target = KINDS[ref.kind]
            parts = {p: params[p] for p in target.scope if p in params} | {target.key[0]: value}
            relpath = target.fill(parts, self.version)
            if not self.file_exists(relpath):
                name = value if target.sharded else repr(value)
                out.append(
                    Problem(
                        path,
                        f"{ref.what} {name} does not exist",
                        f"create {relpath} or fix the reference",
                        ref.pointer,
                        ref.severity,
                    )
                )
        if kind.check is not None:
            out += kind.check(self, path, record, params)
        return out
