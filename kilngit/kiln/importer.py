"""`kilngit import kiln`: read a Kiln project, plan the kilngit records, write what is new.

Re-importing the same source writes nothing (every file is already there, byte for byte). Importing into a
project that has diverged adds only what is new: content-addressed records are immutable, and an annotation,
status or definition that exists with other content was edited in kilngit, so it is kept and reported.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kilngit import layout
from kilngit._io import atomic_write, dump_yaml
from kilngit._temps import bulk_writing
from kilngit.errors import KilngitError
from kilngit.init import init_project
from kilngit.kiln.plan import ImportPlan
from kilngit.kiln.planner import plan_import
from kilngit.kiln.reader import read_kiln
from kilngit.kiln.staging import Stage, staged_task
from kilngit.load import Problem, parse_record
from kilngit.project import Project, definition_data, schema_header
from kilngit.records import Definition, MachineRecord, Record


@dataclass
class ImportReport:
    """What an import read, wrote, left alone and could not import."""

    source: str
    project: str
    files_read: int = 0
    written: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    kept: list[str] = field(default_factory=list)
    """Files that exist in the project with other content (edited in kilngit): left as they are."""
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    aborted: bool = False
    """True when `strict` refused the source: nothing was written."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "project": self.project,
            "files_read": self.files_read,
            "written": dict(sorted(self.written.items())),
            "unchanged": dict(sorted(self.unchanged.items())),
            "kept": self.kept,
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "problems": [p.to_dict() for p in self.problems],
            "aborted": self.aborted,
            "seconds": round(self.seconds, 3),
        }


class KilnImportError(KilngitError):
    """`--strict` found problems in the Kiln source; nothing was imported."""

    def __init__(self, report: ImportReport) -> None:
        first = "\n".join(f"  {p.path}: {p.message}" for p in report.errors[:10])
        more = f"\n  ... and {len(report.errors) - 10} more" if len(report.errors) > 10 else ""
        super().__init__(
            f"{len(report.errors)} problem(s) in the Kiln project; nothing imported (--strict):\n"
            f"{first}{more}",
            "fix them in Kiln, or import without --strict to skip them",
        )
        self.report = report


def import_kiln(src: str | Path, project: str | Path | Project, strict: bool = False) -> ImportReport:
    """Import the Kiln project at `src` into `project` (a Project, or a folder that is initialized when it is
    not a kilngit project yet). Problems are reported and the rest imported; with `strict`, any problem
    raises `KilnImportError` before anything is written. (Open the project afresh afterwards: a Project
    object passed in keeps the caches it had.)"""
    start = time.perf_counter()
    root = project.root if isinstance(project, Project) else Path(project).absolute()
    target = Project(root) if (root / layout.MANIFEST).is_file() else None
    folder = read_kiln(src)
    plan = plan_import(folder, target)
    report = ImportReport(str(folder.root), str(root), folder.files, problems=folder.problems + plan.problems)
    if strict and report.errors:
        report.aborted = True
        report.seconds = time.perf_counter() - start
        raise KilnImportError(report)
    if target is None:
        target = init_project(root, plan.manifest.name)
    target.require_writable()
    with bulk_writing(target.root):  # killed mid-import: the next command sweeps the temp files
        _write_manifest(target, plan, report)
        for task, definitions, records in _by_task(plan):
            with staged_task(target.root, task) as stage:
                for relpath, definition in definitions:
                    _write_definition(target, relpath, definition, report, stage)
                _write_records(target, records, report, stage)
    report.seconds = time.perf_counter() - start
    return report


def _by_task(plan: ImportPlan) -> list[tuple[str, list[tuple[str, Definition]], list[Record]]]:
    """The plan's files per task, each task's in an order where what is referred to comes first (task,
    prompts, run configs, splits, judges, evals; runs before the annotations and results that name them)."""
    tasks: dict[str, tuple[list[tuple[str, Definition]], list[Record]]] = {}
    for relpath, definition in plan.definitions:
        tasks.setdefault(relpath.split("/")[1], ([], []))[0].append((relpath, definition))
    for record in plan.records:
        tasks.setdefault(layout.record_path(record).split("/")[1], ([], []))[1].append(record)
    order = {k: i for i, k in enumerate(_ORDER)}
    return [
        (
            task,
            sorted(defs, key=lambda d: order.get(d[1].kind, len(order))),
            sorted(recs, key=lambda r: order.get(r.kind, len(order))),
        )
        for task, (defs, recs) in tasks.items()
    ]


_ORDER = (
    "task",
    "prompt",
    "run_config",
    "dataset_split",
    "judge",
    "eval",
    "finetune",
    "task_run",
    "split_membership",
    "annotation",
    "judge_result",
    "finetune_status",
)


def _write_manifest(project: Project, plan: ImportPlan, report: ImportReport) -> None:
    manifest = project.manifest
    if manifest.kiln_id == plan.manifest.kiln_id:
        report.unchanged["project"] += 1
    elif manifest.kiln_id is None:
        update = {"kiln_id": plan.manifest.kiln_id}
        if manifest.description is None:
            update["description"] = plan.manifest.description
        project.write_definition(layout.MANIFEST, manifest.model_copy(update=update))
        report.written["project"] += 1
    else:
        report.problems.append(
            Problem(
                layout.MANIFEST,
                f"the project was imported from Kiln project {manifest.kiln_id}, not {plan.manifest.kiln_id}",
                "nothing to do; the records were imported beside the others",
                severity="warning",
            )
        )


def _write_definition(
    project: Project, relpath: str, record: Definition, report: ImportReport, stage: Stage
) -> None:
    path = project.root / relpath
    if stage.folder is not None:
        atomic_write(
            stage.path(relpath),
            dump_yaml(definition_data(record), schema_header(record.kind, relpath)),
            durable=False,
        )
        report.written[record.kind] += 1
        return
    if path.is_file():
        parsed = parse_record(project.root, relpath)
        same = parsed.record is not None and definition_data(parsed.record) == definition_data(record)  # type: ignore[arg-type]
        if same:
            report.unchanged[record.kind] += 1
        else:
            report.kept.append(relpath)
        return
    project.write_definition(relpath, record)
    report.written[record.kind] += 1


def _write_records(project: Project, records: list[Record], report: ImportReport, stage: Stage) -> None:
    """Write the machine and owned records whose files are missing (or, for content-addressed records, hold
    other bytes: a torn write). One `os.sync()` at the end instead of an fsync per file: the same durability
    once the import returns, at a fraction of the time."""
    seen: set[str] = set()
    for record in records:
        relpath = layout.record_path(record)
        if relpath in seen:
            continue
        seen.add(relpath)
        path, data = stage.path(relpath), record.to_bytes()  # type: ignore[attr-defined]
        if not isinstance(record, MachineRecord) and path.is_file() and path.read_bytes() != data:
            report.kept.append(relpath)
        elif atomic_write(path, data, durable=False):
            report.written[record.kind] += 1
        else:
            report.unchanged[record.kind] += 1
    os.sync()  # before a staged task is moved into place: once visible, it is whole and on disk
    report.kept.sort()
