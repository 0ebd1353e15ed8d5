"""Reading a Kiln project folder tolerantly: every readable record is returned, every unreadable one becomes
a `Problem` naming its path, and one bad file never hides the others.

Kiln's layout (the folder names after the ID are free text and often stale, so only the file matters):

    project.kiln
    tasks/<dir>/task.kiln
      runs/<dir>/task_run.kiln
      prompts/<dir>/prompt.kiln
      run_configs/<dir>/task_run_config.kiln
      dataset_splits/<dir>/dataset_split.kiln
      finetunes/<dir>/finetune.kiln
      evals/<dir>/eval.kiln
        configs/<dir>/eval_config.kiln
          runs/<dir>/eval_run.kiln
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kilngit.errors import NotFoundError
from kilngit.load import Problem

#: The newest Kiln schema version this reader understands (kiln-ai 1.2.0 writes v1).
KILN_MAX_VERSION = 1

#: Children of a task: relationship folder -> model_type of the file in each subfolder.
TASK_CHILDREN = {
    "runs": "task_run",
    "prompts": "prompt",
    "run_configs": "task_run_config",
    "dataset_splits": "dataset_split",
    "finetunes": "finetune",
    "evals": "eval",
}


@dataclass(frozen=True)
class KilnRecord:
    """One Kiln file: its path relative to the Kiln project folder and its JSON object."""

    path: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["id"]

    def sort_key(self) -> tuple[str, str]:
        """Creation order, so items added to Kiln later come after the ones imported before."""
        return (str(self.data.get("created_at") or ""), self.id)


@dataclass
class KilnConfig:
    """An eval config (a judge) and its eval runs."""

    record: KilnRecord
    runs: list[KilnRecord] = field(default_factory=list)


@dataclass
class KilnEval:
    record: KilnRecord
    configs: list[KilnConfig] = field(default_factory=list)


@dataclass
class KilnTask:
    record: KilnRecord
    runs: list[KilnRecord] = field(default_factory=list)
    prompts: list[KilnRecord] = field(default_factory=list)
    run_configs: list[KilnRecord] = field(default_factory=list)
    dataset_splits: list[KilnRecord] = field(default_factory=list)
    finetunes: list[KilnRecord] = field(default_factory=list)
    evals: list[KilnEval] = field(default_factory=list)


@dataclass
class KilnFolder:
    """Everything read from a Kiln project folder, in creation order, and what could not be read."""

    root: Path
    project: KilnRecord | None
    tasks: list[KilnTask] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0


def read_kiln(src: str | Path) -> KilnFolder:
    """Read the Kiln project at `src` (a folder holding `project.kiln`, or that file itself)."""
    root = Path(src)
    if root.name == "project.kiln":
        root = root.parent
    if not (root / "project.kiln").is_file():
        raise NotFoundError(
            f"{root} is not a Kiln project (no project.kiln)", "pass the folder that holds project.kiln"
        )
    reader = _Reader(root)
    folder = KilnFolder(root, reader.record("project.kiln", "project"))
    for task_dir in reader.subdirs("tasks"):
        task_rec = reader.child(task_dir, "task")
        if task_rec is None:
            continue
        task = KilnTask(task_rec)
        for rel, model_type in TASK_CHILDREN.items():
            if model_type == "eval":
                continue
            items = [r for d in reader.subdirs(f"{task_dir}/{rel}") if (r := reader.child(d, model_type))]
            getattr(task, rel).extend(sorted(items, key=KilnRecord.sort_key))
        for eval_dir in reader.subdirs(f"{task_dir}/evals"):
            eval_rec = reader.child(eval_dir, "eval")
            if eval_rec is None:
                continue
            ev = KilnEval(eval_rec)
            for config_dir in reader.subdirs(f"{eval_dir}/configs"):
                config_rec = reader.child(config_dir, "eval_config")
                if config_rec is None:
                    continue
                runs = [r for d in reader.subdirs(f"{config_dir}/runs") if (r := reader.child(d, "eval_run"))]
                ev.configs.append(KilnConfig(config_rec, sorted(runs, key=KilnRecord.sort_key)))
            ev.configs.sort(key=lambda c: c.record.sort_key())
            task.evals.append(ev)
        task.evals.sort(key=lambda e: e.record.sort_key())
        folder.tasks.append(task)
        reader.note_unknown(task_dir, set(TASK_CHILDREN))
    folder.tasks.sort(key=lambda t: t.record.sort_key())
    folder.problems, folder.files = reader.problems, reader.files
    return folder


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.files = 0

    def subdirs(self, rel: str) -> list[str]:
        try:
            with os.scandir(self.root / rel) as it:
                names = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f"{rel}/{n}" for n in names]

    def child(self, rel_dir: str, model_type: str) -> KilnRecord | None:
        """The `<model_type>.kiln` record in a child folder, or None (with a problem) when it is unusable."""
        path = f"{rel_dir}/{model_type}.kiln"
        if not (self.root / path).is_file():
            others = sorted(n for n in os.listdir(self.root / rel_dir) if n.endswith(".kiln"))
            what = f"holds {', '.join(others)} instead" if others else "is empty"
            self.problems.append(
                Problem(
                    path,
                    f"missing {model_type}.kiln (the folder {what})",
                    f"restore {model_type}.kiln from a backup or remove the folder",
                )
            )
            return None
        return self.record(path, model_type)

    def record(self, path: str, model_type: str) -> KilnRecord | None:
        self.files += 1
        try:
            data = json.loads((self.root / path).read_bytes())
        except (OSError, UnicodeDecodeError) as e:
            return self._bad(path, f"cannot read the file: {e}", "restore it from a backup")
        except json.JSONDecodeError as e:
            return self._bad(
                path,
                f"invalid or truncated JSON at line {e.lineno} column {e.colno}: {e.msg}",
                "restore the file from a backup (or open and re-save it in Kiln)",
            )
        if not isinstance(data, dict):
            return self._bad(path, "not a JSON object", "restore the file from a backup")
        found = data.get("model_type")
        if found != model_type:
            return self._bad(
                path,
                f"unknown model_type {found!r} (this folder holds {model_type} records)",
                f"set model_type to {model_type!r} if the file is a {model_type}, else remove it",
            )
        v = data.get("v", 1)
        if not isinstance(v, int) or v > KILN_MAX_VERSION:
            return self._bad(
                path,
                f"written by a newer Kiln (schema v{v}; this importer reads up to v{KILN_MAX_VERSION})",
                "upgrade kilngit, or re-save the project with the Kiln version kilngit supports",
            )
        if not isinstance(data.get("id"), str) or not data["id"]:
            return self._bad(path, "has no id", "restore the file from a backup")
        return KilnRecord(path, data)

    def _bad(self, path: str, message: str, fix: str) -> KilnRecord | None:
        """Note a problem with the file at `path`; returns None, the record it could not read."""
        self.problems.append(Problem(path, message, fix))
        return None

    def note_unknown(self, task_dir: str, known: set[str]) -> None:
        """Warn about Kiln features kilngit does not import (e.g. newer Kiln's specs or eval inputs)."""
        for rel in self.subdirs(task_dir):
            name = rel.rsplit("/", 1)[-1]
            if name not in known:
                self.problems.append(
                    Problem(
                        rel,
                        f"Kiln folder {name!r} is not imported (kilngit has no equivalent)",
                        "nothing to do; its content stays in Kiln",
                        severity="warning",
                    )
                )
