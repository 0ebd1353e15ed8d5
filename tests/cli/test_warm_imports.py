"""A warm `status` / `eval scores` after an edit imports only what it reads: not the models of kinds it never
meets (fine-tunes, splits, queued jobs), nor provider settings, runners, fine-tune or sync code. Each module
costs start-up CPU that the command spends while git works out its answer (`kilngit.cache.early`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Eval, Judge
from kilngit.records.canonical import to_file_bytes
from tests.conftest import git
from tests.tickets import TASK, make_tickets

CHILD = """
import contextlib, io, sys
from kilngit.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
unread = ("records.finetune", "records.dataset", "records.queue", "providers.config", "runner", "finetune", "sync")
print(code, sorted(m for m in sys.modules if m.startswith(tuple("kilngit." + u for u in unread))))
print("rich" in sys.modules)
"""


@pytest.mark.parametrize(
    ("command", "rich"),
    [
        (["status"], True),
        (["status", "--format", "json"], False),  # nothing printed with rich
        (["eval", "scores", "--task", TASK], True),
        (["eval", "scores", "--task", TASK, "--format", "json"], False),
    ],
)
def test_a_warm_command_imports_no_code_of_what_it_never_reads(
    project: Project, command: list[str], rich: bool
) -> None:
    make_tickets(project)
    project.write_definition(
        layout.eval_file(TASK, "routing"),
        Eval(
            name="routing",
            scores=[{"name": "polite", "type": "pass_fail", "instruction": "A bare class name."}],
            default_judge="exact",
        ),
    )
    project.write_definition(
        layout.judge_file(TASK, "routing", "exact"), Judge(type="exact_match", score="polite")
    )
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "tickets")
    argv = [sys.executable, "-c", CHILD, "-C", str(project.root), *command]
    assert subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()[0] == "0"  # fills
    note = next(iter(project.annotations(TASK)))
    path = project.root / layout.record_path(note)
    path.write_bytes(to_file_bytes({**json.loads(path.read_bytes()), "note": "edited after the first run"}))
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["0 []", str(rich)]
