"""kilngit: an AI project (tasks, runs, ratings, evals, judges, fine-tunes) kept in git, one file per record.

The public API: open a project, read and write records, validate. Everything the CLI does goes through
these and the functions of the concept packages (`kilngit.runner`, `kilngit.evals`, `kilngit.review`,
`kilngit.finetune`, `kilngit.kiln`, `kilngit.sync`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kilngit.errors import KilngitError
    from kilngit.init import init_project
    from kilngit.load import Problem, load_record
    from kilngit.project import Project
    from kilngit.validate import validate_changed, validate_project
    from kilngit.validation_report import ValidationReport

# Imported on first use, so that `import kilngit.<module>` (e.g. the record writer process) stays cheap.
_EXPORTS = {
    "KilngitError": "kilngit.errors",
    "init_project": "kilngit.init",
    "Problem": "kilngit.load",
    "load_record": "kilngit.load",
    "Project": "kilngit.project",
    "ValidationReport": "kilngit.validation_report",
    "validate_changed": "kilngit.validate",
    "validate_project": "kilngit.validate",
}
__all__ = [
    "KilngitError",
    "Problem",
    "Project",
    "ValidationReport",
    "init_project",
    "load_record",
    "validate_changed",
    "validate_project",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kilngit' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
