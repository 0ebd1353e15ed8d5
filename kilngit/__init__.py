"""kilngit: an AI project (tasks, runs, ratings, evals, judges, fine-tunes) kept in git, one file per record.

The public API: open a project, read and write records, validate. Everything the CLI does goes through
these and the functions of the concept packages (`kilngit.runner`, `kilngit.evals`, `kilngit.review`,
`kilngit.finetune`, `kilngit.kiln`, `kilngit.sync`).
"""

from kilngit.errors import KilngitError
from kilngit.init import init_project
from kilngit.load import Problem, load_record
from kilngit.project import Project
from kilngit.validate import ValidationReport, validate_changed, validate_project

__all__ = [
    "KilngitError", "Problem", "Project", "ValidationReport", "init_project", "load_record", "validate_changed",
    "validate_project",
]
