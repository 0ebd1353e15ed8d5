"""What in a project needs this machine's trust before kilngit runs it: code, and definitions that make a
watcher do work.

- `code`: every `.py`, `.pyc`, `.pyz`, `.sh`, `.so` or `.pth` file, every executable file and every symlink
  (code judges import any of them; a link named `tempfile.py` would shadow a module);
- `code judge`: a judge definition of type `code` (names the function to run);
- `auto-run eval`: an eval definition with `auto_run: true` (a watcher judges it unasked, with its keys);
- `queue request`: a job request in `tasks/*/queue/` (a watcher runs it with its keys).

Hidden folders (`.git`, `.kilngit`, `.venv`...), virtual environments and `__pycache__` are not the project's
code and are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from kilngit import layout
from kilngit.project import Project
from kilngit.records.judge_types import JUDGE_TYPES

CODE_SUFFIXES = (".py", ".pyc", ".pyz", ".sh", ".so", ".pth")
SKIPPED_FOLDERS = {"__pycache__", "node_modules"}


def trust_items(root: Path) -> dict[str, str]:
    """path (relative to the project root) -> kind, for everything that needs trust."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIPPED_FOLDERS
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = "code"
            elif not os.path.isfile(path):
                continue
            elif name.endswith(CODE_SUFFIXES) or os.stat(path).st_mode & 0o111:
                found[os.path.relpath(path, root)] = "code"
    project = Project(root)
    for task in project.tasks():
        for slug, ev in project.evals(task).items():
            if ev.auto_run:
                found[layout.eval_file(task, slug)] = "auto-run eval"
            for name, judge in project.judges(task, slug).items():
                if JUDGE_TYPES[judge.type].runs_code:
                    found[layout.judge_file(task, slug, name)] = "code judge"
        queue = root / "tasks" / task / "queue"
        for request in sorted(queue.glob("*.json")) if queue.is_dir() else []:
            found[request.relative_to(root).as_posix()] = "queue request"
    return dict(sorted(found.items()))
