"""`Problem`: one thing wrong with a project, as reading, validation and the committer report it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a project: where (file and JSON pointer), what, and how to fix it."""

    path: str
    message: str
    fix: str
    pointer: str = ""
    severity: Severity = "error"
    code: str = ""
    """A stable name for problems tools act on, e.g. "not_canonical"."""

    def __str__(self) -> str:
        where = f"{self.path}{'#' + self.pointer if self.pointer else ''}"
        return f"{self.severity}: {where}: {self.message}\n  fix: {self.fix}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
