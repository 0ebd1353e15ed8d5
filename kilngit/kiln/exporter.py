"""`kilngit export kiln`: write a project as a Kiln project folder that kiln-ai loads.

Kiln IDs are the records' `kiln_id` when they have one (so an imported project goes back with its IDs), else
12 digits derived from the kilngit identity, so exporting twice writes the same files. Timestamps are the
time of the project's last commit. Files are written the way Kiln writes them (2-space JSON, no trailing
newline) in Kiln's older layout, which kiln-ai 1.2.0 loads.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic_core

from kilngit import _git
from kilngit._io import atomic_write
from kilngit.errors import KilngitError
from kilngit.kiln.names import kiln_id_for, kiln_name
from kilngit.load import Problem
from kilngit.project import Project


@dataclass
class ExportReport:
    """What an export wrote, and what Kiln could not hold."""

    dest: str
    written: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"dest": self.dest, "written": dict(sorted(self.written.items())),
                "problems": [p.to_dict() for p in self.problems], "seconds": round(self.seconds, 3)}


class KilnIds:
    """12-digit Kiln IDs, unique per kind: the record's `kiln_id` when it is one and still free, else derived."""

    def __init__(self) -> None:
        self.used: dict[str, set[str]] = {}

    def get(self, kind: str, key: str, kiln_id: str | None = None) -> str:
        used = self.used.setdefault(kind, set())
        candidate = kiln_id if kiln_id and re.fullmatch(r"\d{12}", kiln_id) and kiln_id not in used else None
        n = 0
        while candidate is None or candidate in used:
            candidate = kiln_id_for(kind, key, str(n))
            n += 1
        used.add(candidate)
        return candidate


class KilnWriter:
    """Writes Kiln records under the export folder, with the shared header fields."""

    def __init__(self, dest: Path, created_at: str, report: ExportReport) -> None:
        self.dest, self.created_at, self.report = dest, created_at, report

    def record(self, model_type: str, kiln_id: str, fields: dict[str, Any], created_by: str = "kilngit"
               ) -> dict[str, Any]:
        """A Kiln record dict: Kiln's header fields, then `fields`, then `model_type`."""
        return {"v": 1, "id": kiln_id, "created_at": self.created_at, "created_by": created_by, **fields,
                "model_type": model_type}

    def write(self, folder: str, data: dict[str, Any]) -> str:
        """Write `data` as `<folder>/<model_type>.kiln`; returns the folder."""
        atomic_write(self.dest / folder / f"{data['model_type']}.kiln", pydantic_core.to_json(data, indent=2),
                     durable=False)
        self.report.written[data["model_type"]] += 1
        return folder

    def warn(self, path: str, message: str) -> None:
        self.report.problems.append(Problem(path, message, "nothing to do; the rest was exported",
                                            severity="warning"))


def folder_name(kiln_id: str, name: str | None) -> str:
    """Kiln's folder name for a record: `<id> - <name cut at 32>`, or the bare ID for nameless records."""
    return f"{kiln_id} - {kiln_name(name[:32])}" if name else kiln_id


def export_kiln(project: Project, dest: str | Path, tasks: list[str] | None = None) -> ExportReport:
    """Write `project` (or only `tasks`) as a Kiln project in `dest`, a new or empty folder."""
    from kilngit.kiln.export_task import export_task

    start = time.perf_counter()
    dest = Path(dest).absolute()
    if dest.exists() and any(dest.iterdir()):
        raise KilngitError(f"{dest} is not empty", "export into a new or empty folder")
    slugs = [project.task_slug(t) for t in tasks] if tasks else list(project.tasks())
    report = ExportReport(str(dest))
    writer = KilnWriter(dest, _commit_time(project.root), report)
    manifest = project.manifest
    project_id = KilnIds().get("project", manifest.name, manifest.kiln_id)
    writer.write("", writer.record("project", project_id, {"name": kiln_name(manifest.name),
                                                           "description": manifest.description or ""}))
    ids = KilnIds()
    for slug in slugs:
        export_task(project, slug, project_id, ids, writer)
    os.sync()
    report.seconds = time.perf_counter() - start
    return report


def _commit_time(root: Path) -> str:
    """The last commit's time (so exports of one commit are identical), else now."""
    stamp = _git.run_git(root, "log", "-1", "--format=%ct", check=False) if _git.repo_root(root) else ""
    moment = (datetime.datetime.fromtimestamp(int(stamp), datetime.UTC) if stamp.isdigit()
              else datetime.datetime.now(datetime.UTC))
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")
