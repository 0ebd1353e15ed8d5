"""The files the watcher refuses to commit, and `.kilngit/problems.json`, the machine-readable list of them.

A file stays on the list until a later round sees it valid (it is committed then) or gone. The JSON is
rewritten only when the list changes: `{"updated_at", "files", "problems": [{path, pointer, message, fix,
severity, code}]}`, an empty list when everything is valid.
"""

from __future__ import annotations

import time
from pathlib import Path

from kilngit.load import Problem
from kilngit.sync.statusfile import iso, problems_path, write_json


class InvalidFiles:
    """path -> its error-level problems, kept across rounds of validation."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.files: dict[str, list[Problem]] = {}
        self._written: dict[str, list[str]] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def paths(self) -> set[str]:
        return set(self.files)

    def update(
        self, found: dict[str, list[Problem]], valid: list[str], looked_at: list[str] | None
    ) -> list[str]:
        """Record one round (`looked_at` None: the whole project) and return the lines to tell the user."""
        seen = None if looked_at is None else set(looked_at)
        before = dict(self.files)
        for path in list(self.files):
            if (seen is None or path in seen or _under(path, seen)) and path not in found:
                del self.files[path]
        self.files.update(found)
        self._write()
        lines = [
            f"not committed: {p}"
            for path, problems in found.items()
            if _texts(before.get(path, [])) != _texts(problems)
            for p in problems
        ]
        valid_now = set(valid)
        lines += [
            f"fixed: {path} is valid now" if path in valid_now else f"gone: {path} no longer matters"
            for path in sorted(set(before) - set(self.files))
        ]
        return lines

    def _write(self) -> None:
        signature = {path: _texts(problems) for path, problems in self.files.items()}
        if signature == self._written:
            return
        problems = [p.to_dict() for path in sorted(self.files) for p in self.files[path]]
        write_json(
            problems_path(self.root),
            {"updated_at": iso(time.time()), "files": len(self.files), "problems": problems},
        )
        self._written = signature


def _texts(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def _under(path: str, folders: set[str]) -> bool:
    return any(path.startswith(f.rstrip("/") + "/") for f in folders)
