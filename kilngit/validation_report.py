"""`ValidationReport`: what `kilngit validate` found (its own module: the warm `validate` prints one from the
cache without importing the checks)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kilngit.problems import Problem


@dataclass
class ValidationReport:
    """What `validate` found."""

    files: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": self.files,
            "kinds": dict(sorted(self.kinds.items())),
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "problems": [p.to_dict() for p in self.problems],
            "seconds": round(self.seconds, 3),
        }
