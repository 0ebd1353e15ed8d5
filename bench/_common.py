"""What several benches share: a hermetic git identity, and a fresh committed copy of the example project
with a trivial code judge beside its real ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit import layout  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.records import Judge  # noqa: E402

#: git with a fixed identity and none of this machine's configuration.
GIT_ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    GIT_CONFIG_GLOBAL=os.devnull,
    GIT_CONFIG_NOSYSTEM="1",
)

EXAMPLE = HERE.parent / "example_project"
TASK, EVAL = "nl-to-ffmpeg", "correctness"
TRIVIAL = "def judge(task, input, output):\n    return {'correct': 1}\n"


def example_copy(parent: Path) -> Path:
    """A fresh git repository holding the example project without its results, plus judge `trivial`
    (a code judge that passes everything: what a judgement costs beyond the judge's own work)."""
    root = parent / f"example-{time.monotonic_ns()}"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("results", "__pycache__", ".kilngit"))
    (root / "bench_trivial.py").write_text(TRIVIAL)
    Project(root).write_definition(
        layout.judge_file(TASK, EVAL, "trivial"), Judge(type="code", function="bench_trivial:judge")
    )
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench copy"]):
        subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True)
    return root
