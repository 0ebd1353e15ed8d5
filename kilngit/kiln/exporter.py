"""Writing Kiln files: IDs, the writer, and the per-task export context (`kilngit.kiln.export` drives them).

Kiln IDs are the records' `kiln_id` when they have one (so an imported project goes back with its IDs), else
12 digits derived from the kilngit identity, so exporting twice writes the same files. Timestamps are the
time of the project's last commit. Files are written the way Kiln writes them (2-space JSON, no trailing
newline) in Kiln's older layout, which kiln-ai 1.2.0 loads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic_core

from kilngit._io import atomic_write
from kilngit.kiln import export_mapping as xm
from kilngit.kiln.names import kiln_id_for, kiln_name
from kilngit.load import Problem
from kilngit.project import Project
from kilngit.records import Prompt, Task
from kilngit.state import RunState


@dataclass
class ExportReport:
    """What an export wrote, and what Kiln could not hold."""

    dest: str
    written: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dest": self.dest,
            "written": dict(sorted(self.written.items())),
            "problems": [p.to_dict() for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


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

    def record(
        self, model_type: str, kiln_id: str, fields: dict[str, Any], created_by: str = "kilngit"
    ) -> dict[str, Any]:
        """A Kiln record dict: Kiln's header fields, then `fields`, then `model_type`."""
        return {
            "v": 1,
            "id": kiln_id,
            "created_at": self.created_at,
            "created_by": created_by,
            **fields,
            "model_type": model_type,
        }

    def write(self, folder: str, data: dict[str, Any]) -> str:
        """Write `data` as `<folder>/<model_type>.kiln`; returns the folder."""
        atomic_write(
            self.dest / folder / f"{data['model_type']}.kiln",
            pydantic_core.to_json(data, indent=2),
            durable=False,
        )
        self.report.written[data["model_type"]] += 1
        return folder

    def warn(self, path: str, message: str) -> None:
        self.report.problems.append(
            Problem(path, message, "nothing to do; the rest was exported", severity="warning")
        )


def folder_name(kiln_id: str, name: str | None) -> str:
    """Kiln's folder name for a record: `<id> - <name cut at 32>`, or the bare ID for nameless records."""
    return f"{kiln_id} - {kiln_name(name[:32])}" if name else kiln_id


class TaskExport:
    """The Kiln IDs given to one task's records so far, and the writer."""

    def __init__(
        self, project: Project, slug: str, project_id: str, ids: KilnIds, writer: KilnWriter
    ) -> None:
        self.project, self.slug, self.project_id, self.ids, self.writer = (
            project,
            slug,
            project_id,
            ids,
            writer,
        )
        self.task: Task = project.task(slug)
        self.task_id = ids.get("task", slug, self.task.kiln_id)
        self.folder = f"tasks/{folder_name(self.task_id, self.task.name)}"
        self.states: dict[str, RunState] = project.states(slug)
        self.finetune_ids = {
            ft: ids.get("finetune", f"{slug}/{ft}", rec.kiln_id)
            for ft, rec in project.finetunes(slug).items()
        }
        self.finetune_models: xm.FineTuneModels = {}
        for ft, rec in project.finetunes(slug).items():
            status = project.finetune_status(slug, ft)
            if status is not None and status.fine_tuned_model:
                self.finetune_models[(rec.provider, status.fine_tuned_model)] = (
                    f"{project_id}::{self.task_id}::{self.finetune_ids[ft]}"
                )
        self.prompt_ids: dict[str, str] = {}
        self.frozen: dict[str, Prompt] = {}
        self.run_config_ids: dict[str, str] = {}
        self.run_ids: dict[str, str] = {}
        self.split_ids: dict[str, str] = {}
        self.extra_tags: dict[str, set[str]] = {}
        self.requirement_keys: dict[str, str] = {}
        self.score_names: dict[str, str] = {}
        #: eval slug -> (Kiln eval set filter ID, Kiln golden set filter ID).
        self.eval_filters: dict[str, tuple[str, str]] = {}

    def path(self, *parts: str) -> str:
        return "/".join((self.folder, *parts))

    def prompt_text(self, prompt: Prompt | None) -> str:
        return (prompt.system if prompt and prompt.system else None) or self.task.instruction
