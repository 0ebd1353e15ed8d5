"""`kilngit migrate` and projects of an older folder layout: made with real git in the layout-1 shape (one
shard folder), read as they are, refused for writing, migrated (renames in git), killed mid-way with
SIGKILL and finished by the next run."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.errors import NewerFormatError, OldLayoutError
from kilngit.kinds import KINDS, LAYOUT
from kilngit.migrate import migrate
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult
from kilngit.records.canonical import content_id
from kilngit.review.diff import review
from kilngit.validate import validate_project
from tests.conftest import git
from tests.evals.conftest import TASK, _eval_template, eval_project  # noqa: F401  (fixtures)


def write_old_layout(project: Project) -> dict[str, str]:
    """Turn `project` into a layout-1 project as an older kilngit wrote it: every bulk record in one shard
    folder (`runs/ab/<id>.json`), no `layout` in kilngit.yaml; committed. Returns new path -> old path."""
    root = project.root
    moved = {}
    for kind in KINDS.values():
        if 1 not in kind.older:
            continue
        for relpath in project.candidates(kind, {}, LAYOUT):
            located = layout.classify(relpath)
            assert located is not None and located.layout is None
            old = kind.fill(located.params, 1)
            (root / old).parent.mkdir(parents=True, exist_ok=True)
            os.rename(root / relpath, root / old)
            moved[relpath] = old
    manifest = root / layout.MANIFEST
    manifest.write_text(
        "".join(line for line in manifest.read_text().splitlines(True) if "layout:" not in line)
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a project of layout 1")
    return moved


@pytest.fixture
def old_project(eval_project: Project) -> tuple[Project, dict[str, str]]:
    """The eval project (12 runs, 24 annotations) plus two judge results, in layout 1."""
    for run in list(eval_project.runs(TASK).values())[:2]:
        eval_project.write_record(
            JudgeResult(
                task=TASK, eval="correctness", judge="exec", judge_hash="h", run=run.id, scores={"correct": 1}
            )
        )
    moved = write_old_layout(eval_project)
    return Project(eval_project.root), moved


def kilngit(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def test_an_old_project_is_read_as_it_is(old_project):
    project, moved = old_project
    assert project.layout_version == 1
    assert len(project.runs(TASK)) == 12 and len(project.annotations(TASK)) == 24
    assert len(project.judge_results(TASK, "correctness")) == 2
    assert not project.problems
    assert validate_project(project.root).ok
    assert {layout.classify(old).layout for old in moved.values()} == {1}


def test_every_writing_command_refuses_an_old_project(old_project, capsys):
    project, _ = old_project
    run = next(iter(project.runs(TASK).values()))
    with pytest.raises(OldLayoutError, match="kilngit migrate"):
        project.write_record(Annotation(task=TASK, run=run.id, rater="carol@example.com", tags_added=["x"]))
    head = git(project.root, "rev-parse", "HEAD")
    for args in (
        ["rate", run.id[:8], "--pass"],
        ["tag", "--filter", "rated", "--add", "x"],
        ["prompt", "new", "other"],
        ["validate", "--fix"],
        ["watch", "--once"],
    ):
        assert kilngit(project.root, *args) == 1, args
        err = capsys.readouterr().err
        assert "kilngit migrate" in err and "Traceback" not in err, (args, err)
    assert git(project.root, "status", "--porcelain") == "" and git(project.root, "rev-parse", "HEAD") == head
    assert kilngit(project.root, "status") == 0 and kilngit(project.root, "validate") == 0


def test_migrate_moves_every_file_as_renames_and_a_rerun_is_a_noop(old_project, capsys):
    project, moved = old_project
    before = {new: (project.root / old).read_bytes() for new, old in moved.items()}
    assert kilngit(project.root, "migrate") == 0
    assert "layout 1 -> 2" in capsys.readouterr().out
    for new, data in before.items():
        assert (project.root / new).read_bytes() == data
    assert not any((project.root / old).exists() for old in moved.values())
    status = git(project.root, "status", "--porcelain")
    renames = [line for line in status.splitlines() if line.startswith("R ")]
    assert len(renames) == len(moved) and f"M  {layout.MANIFEST}" in status.splitlines()
    assert "layout: 2" in (project.root / layout.MANIFEST).read_text()
    git(project.root, "commit", "-qm", "migrate")
    pr = review(project.root, "HEAD~1...HEAD").changes  # what a reviewer of the migration's pull request sees
    assert pr.moved == len(moved) and not pr.ratings and not pr.records
    some = next(n for n in moved if "/runs/" in n)
    assert git(project.root, "log", "--follow", "--format=%s", "--", some).splitlines()[-1] != "migrate"
    fresh = Project(project.root)
    assert fresh.layout_version == LAYOUT and len(fresh.runs(TASK)) == 12
    assert validate_project(project.root).ok
    assert kilngit(project.root, "migrate") == 0
    assert "nothing to move" in capsys.readouterr().out
    assert git(project.root, "status", "--porcelain") == ""
    assert kilngit(project.root, "rate", some.rsplit("/", 1)[1][:16], "--pass") == 0
    assert git(project.root, "status", "--porcelain").startswith("??")  # written in the new layout


def test_migrate_works_in_a_subfolder_of_the_repository_and_with_untracked_files(old_project, tmp_path):
    old, moved = old_project
    outer = tmp_path / "outer"
    shutil.copytree(old.root, outer / "sub", ignore=shutil.ignore_patterns(".git"))
    git(outer, "init", "-q")
    git(outer, "add", "-A")
    git(outer, "commit", "-qm", "a repository with the project in sub/")
    project = Project(outer / "sub")
    extra = project.root / "tasks" / TASK / "runs" / "ff" / ("ff" + "1" * 14 + ".json")
    extra.parent.mkdir(parents=True, exist_ok=True)
    some_old = next(iter(moved.values()))
    extra.write_bytes((project.root / some_old).read_bytes())  # untracked, at an old path (misnamed)
    report = migrate(project)
    assert report.moved == len(moved) + 1 and report.index_moved == len(moved)
    assert (project.root / KINDS["task_run"].fill({"task": TASK, "id": extra.stem})).is_file()
    status = git(outer, "status", "--porcelain").splitlines()
    assert sum(line.startswith("R  sub/tasks/") for line in status) == len(moved)
    assert "M  sub/kilngit.yaml" in status and any(line.startswith("?? sub/tasks/") for line in status)


def test_a_newer_layout_is_refused(eval_project, capsys):
    manifest = eval_project.root / layout.MANIFEST
    manifest.write_text(manifest.read_text().replace(f"layout: {LAYOUT}", f"layout: {LAYOUT + 1}"))
    with pytest.raises(NewerFormatError, match="upgrade kilngit"):
        Project(eval_project.root).runs(TASK)
    for args in (["status"], ["validate"], ["migrate"]):
        assert kilngit(eval_project.root, *args) == 1
        assert "upgrade kilngit" in capsys.readouterr().err


def test_validate_flags_old_paths_in_a_migrated_project(eval_project):
    run = next(iter(eval_project.runs(TASK).values()))
    new = layout.run_file(TASK, run.id)
    old = KINDS["task_run"].fill({"task": TASK, "id": run.id}, 1)
    os.rename(eval_project.root / new, eval_project.root / old)
    problems = [p for p in validate_project(eval_project.root).errors if p.path == old]
    assert problems and "kilngit migrate" in problems[0].fix
    assert migrate(Project(eval_project.root)).moved == 1
    assert validate_project(eval_project.root).ok


def test_migrate_stops_on_two_different_copies(old_project):
    project, moved = old_project
    new, old = next((n, o) for n, o in moved.items() if "/annotations/" in n)
    (project.root / new).parent.mkdir(parents=True, exist_ok=True)
    (project.root / new).write_text("{}\n")
    with pytest.raises(Exception, match="both their old and new path"):
        migrate(project)
    assert Project(project.root).layout_version == 1
    (project.root / new).unlink()
    assert migrate(Project(project.root)).manifest


# ---- kill -9 at chosen moments, then the next run finishes -----------------------------------------------

_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import kilngit.migrate as m
    point, n = sys.argv[1], int(sys.argv[2])

    def wrap(name):
        real, seen = getattr(m, name), [0]
        def hooked(*args, **kwargs):
            if point == name + ":before" and seen[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            seen[0] += 1
            out = real(*args, **kwargs)
            if point == name + ":after":
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        setattr(m, name, hooked)

    for name in ("_rename", "_update_index", "_write_manifest"):
        wrap(name)
    from kilngit.cli.main import main
    sys.exit(main(["-C", sys.argv[3], "migrate"]))
    """
)


@pytest.mark.parametrize(
    "point,n",
    [
        ("_rename:before", 0),
        ("_rename:before", 1),
        ("_rename:before", 17),
        ("_rename:after", 0),
        ("_update_index:before", 0),
        ("_update_index:after", 0),
        ("_write_manifest:after", 0),
    ],
)
def test_a_killed_migrate_is_finished_by_the_next(old_project, point, n):
    project, moved = old_project
    before = {new: (project.root / old).read_bytes() for new, old in moved.items()}
    proc = subprocess.run(
        [sys.executable, "-c", _KILLER, point, str(n), str(project.root)], capture_output=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert kilngit(project.root, "status") == 0  # a half-moved project is still readable
    assert migrate(Project(project.root)).after == LAYOUT
    for new, data in before.items():
        assert (project.root / new).read_bytes() == data
    status = git(project.root, "status", "--porcelain").splitlines()
    assert sum(line.startswith("R ") for line in status) == len(moved)
    assert f"M  {layout.MANIFEST}" in status and len(status) == len(moved) + 1
    assert validate_project(project.root).ok
    assert not migrate(Project(project.root)).changed


def _fan_out(template: str, records: int) -> list[int]:
    """Entries per folder level below the kind's base for `records` records with uniformly spread IDs
    (content hashes): 16**width per shard level, the rest in the leaf."""
    widths = [int(b) - int(a or 0) for a, b in re.findall(r"\[(\d*):(\d+)\]", template)]
    return [16**w for w in widths] + [math.ceil(records / 16 ** sum(widths))]


@pytest.mark.parametrize("kind", ["task_run", "annotation", "judge_result"])
def test_no_folder_passes_3000_entries_at_ten_million(kind):
    assert max(_fan_out(KINDS[kind].path, 10_000_000)) < 3_000
    assert max(_fan_out(KINDS[kind].template(1), 10_000_000)) > 3_000  # why layout 1 had to go


def test_ids_spread_over_the_leaf_folders():
    """Content IDs fill the 65,536 leaf folders evenly (what `_fan_out` assumes)."""
    ids = [content_id({"kind": "task_run", "input": str(i)}) for i in range(20_000)]
    leaves = Counter(layout.run_file("t", i).rsplit("/", 1)[0] for i in ids)
    assert len({f.split("/")[3] for f in leaves}) == 256 and max(leaves.values()) < 10


def test_a_watcher_commits_nothing_once_the_manifest_is_back_at_an_older_layout(eval_project):
    from kilngit.sync.committer import Committer

    committer = Committer(eval_project.root)
    manifest = eval_project.root / layout.MANIFEST
    manifest.write_text(
        manifest.read_text().replace(f"layout: {LAYOUT}\n", "")
    )  # e.g. an old commit checked out
    result = committer.flush(None)
    assert result.commit is None and "kilngit migrate" in (result.waiting or "")
