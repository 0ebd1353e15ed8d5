"""Every command on every hostile file: a clear error or a reported problem naming the file, never a crash
(exit 3), a hang, or a write outside the project."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import HOSTILE, a_run, kilngit

pytestmark = pytest.mark.parametrize("case", sorted(HOSTILE))


def _outside_untouched(root, before):
    outside = root.parent / "outside"
    after = sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) if outside.exists() else []
    assert after == before, f"written outside the project: {sorted(set(after) - set(before))}"


def _snapshot(root):
    outside = root.parent / "outside"
    return sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) if outside.exists() else []


def test_validate_names_the_file(eval_project, case):
    root = eval_project.root
    where = HOSTILE[case](root)
    out = kilngit(root, "validate")
    assert out.returncode == 1, out.stderr.decode() + out.stdout.decode()
    assert where.split("/")[-1] in out.stdout.decode(), out.stdout.decode()


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("eval", "scores", "correctness"),
        ("run", "eval", "correctness", "--judge", "has-ffmpeg"),
        ("report",),
        ("rate", "RUN", "--pass", "--as", "mallory@example.com"),
    ],
)
def test_commands_do_not_crash_or_hang(eval_project, case, command):
    root = eval_project.root
    run = a_run(eval_project)
    HOSTILE[case](root)
    before = _snapshot(root)
    out = kilngit(root, *[run.id if a == "RUN" else a for a in command])
    err = out.stderr.decode()
    assert out.returncode in (0, 1), f"exit {out.returncode}: {err}"
    assert "crashed" not in err and "Traceback" not in err, err
    _outside_untouched(root, before)
