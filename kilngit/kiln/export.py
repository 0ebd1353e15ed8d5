"""`export_kiln`: write a project as a Kiln project folder (the pieces: `exporter`, `export_task`, `export_evals`)."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from kilngit import _git
from kilngit.errors import KilngitError
from kilngit.kiln.export_task import export_task
from kilngit.kiln.exporter import ExportReport, KilnIds, KilnWriter
from kilngit.kiln.names import kiln_name
from kilngit.project import Project


def export_kiln(project: Project, dest: str | Path, tasks: list[str] | None = None) -> ExportReport:
    """Write `project` (or only `tasks`) as a Kiln project in `dest`, a new or empty folder."""
    start = time.perf_counter()
    dest = Path(dest).absolute()
    if dest.exists() and any(dest.iterdir()):
        raise KilngitError(f"{dest} is not empty", "export into a new or empty folder")
    slugs = [project.task_slug(t) for t in tasks] if tasks else list(project.tasks())
    report = ExportReport(str(dest))
    writer = KilnWriter(dest, _commit_time(project.root), report)
    manifest = project.manifest
    project_id = KilnIds().get("project", manifest.name, manifest.kiln_id)
    writer.write(
        "",
        writer.record(
            "project",
            project_id,
            {"name": kiln_name(manifest.name), "description": manifest.description or ""},
        ),
    )
    ids = KilnIds()
    for slug in slugs:
        export_task(project, slug, project_id, ids, writer)
    os.sync()
    report.seconds = time.perf_counter() - start
    return report


def _commit_time(root: Path) -> str:
    """The last commit's time (so exports of one commit are identical), else now."""
    stamp = _git.run_git(root, "log", "-1", "--format=%ct", check=False) if _git.repo_root(root) else ""
    moment = (
        datetime.datetime.fromtimestamp(int(stamp), datetime.UTC)
        if stamp.isdigit()
        else datetime.datetime.now(datetime.UTC)
    )
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds")
