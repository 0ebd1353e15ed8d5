"""One rater, one run, two machines: the merge rule (field by field, later rated_at wins a field both
changed), through git's merge driver and, in a clone without the driver, through `kilngit validate --fix`.
Real clones of a bare remote."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Annotation, Rating
from kilngit.review.annotation_merge import merge_annotations, split_conflict
from kilngit.validate import validate_project
from tests.conftest import git
from tests.review.conftest import commit, make_run

ME = "me@example.com"
PASS, FAIL = Rating(type="pass_fail", value=1.0), Rating(type="pass_fail", value=0.0)


def _ann(run: str, at: str, **fields) -> Annotation:
    return Annotation(task="ffmpeg", run=run, rater=ME, rated_at=at, **fields)


def test_field_by_field_later_wins():
    base = _ann("r1", "2026-01-01T00:00:00Z", rating=PASS, note="first look")
    ours = _ann("r1", "2026-01-01T10:00:00Z", rating=FAIL, note="first look", tags_added=["hard"])
    theirs = _ann(
        "r1", "2026-01-01T09:00:00Z", rating=PASS, note="checked the bitrate", tags_added=["golden"]
    )
    merged = merge_annotations(base, ours, theirs)
    assert merged.rating == FAIL  # only ours changed it
    assert merged.note == "checked the bitrate"  # only theirs changed it
    assert merged.tags_added == ["golden", "hard"] and merged.rated_at == "2026-01-01T10:00:00Z"
    both = merge_annotations(
        base, ours, theirs.model_copy(update={"rating": Rating(type="five_star", value=3)})
    )
    assert both.rating == FAIL  # both changed it: the later (ours) wins
    assert merge_annotations(base, theirs, ours) == merge_annotations(
        base, ours, theirs
    )  # same on both machines


def test_without_base_later_wins_every_difference():
    ours = _ann("r1", "2026-01-01T10:00:00Z", rating=FAIL)
    theirs = _ann("r1", "2026-01-01T11:00:00Z", rating=PASS, note="ok")
    merged = merge_annotations(None, ours, theirs)
    assert (merged.rating, merged.note) == (PASS, "ok")
    old = Annotation(task="ffmpeg", run="r1", rater=ME, rating=FAIL)  # written before rated_at existed
    assert merge_annotations(None, old, ours.model_copy(update={"rating": PASS})).rating == PASS


def test_split_conflict_markers():
    text = "a\n<<<<<<< HEAD\nb\n||||||| base\nc\n=======\nd\n>>>>>>> theirs\ne\n"
    assert split_conflict(text) == ("a\nc\ne\n", "a\nb\ne\n", "a\nd\ne\n")
    assert split_conflict("a\n<<<<<<< HEAD\nb\n=======\nd\n>>>>>>> x\n")[0] is None


def _write(project: Project, run_id: str, at: str, rating: Rating, note: str | None = None) -> None:
    project.write_record(
        Annotation(task="ffmpeg", run=run_id, rater=ME, rating=rating, note=note, rated_at=at)
    )


@pytest.fixture
def machines(project, tmp_path):
    run = make_run(project, "convert talk.mov to webm")
    commit(project, "seed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(project.root), str(remote))
    laptop, desktop = tmp_path / "laptop", tmp_path / "desktop"
    for clone in (laptop, desktop):
        git(tmp_path, "clone", "-q", str(remote), str(clone))
    return Project(laptop), Project(desktop), run.id


def _diverge(laptop: Project, desktop: Project, run_id: str, minute: int) -> None:
    _write(laptop, run_id, f"2026-12-01T10:{minute:02d}:00Z", FAIL, "the audio is dropped")
    _write(desktop, run_id, f"2026-12-01T10:{minute + 5:02d}:00Z", PASS)  # later
    commit(laptop, "laptop rating")
    commit(desktop, "desktop rating")
    git(laptop.root, "push", "-q", "origin", "HEAD:main")


def test_clone_without_driver_conflicts_and_validate_fix_resolves(machines):
    laptop, desktop, run_id = machines
    assert (
        subprocess.run(
            ["git", "config", "--get", "merge.kilngit-annotation.driver"],
            cwd=desktop.root,
            capture_output=True,
        ).returncode
        == 1
    )  # git config is not cloned
    _diverge(laptop, desktop, run_id, 0)
    pulled = subprocess.run(
        ["git", "pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
        cwd=desktop.root,
        capture_output=True,
        text=True,
    )
    assert pulled.returncode != 0 and "CONFLICT" in pulled.stdout + pulled.stderr
    relpath = layout.annotation_file("ffmpeg", ME, run_id)
    assert not validate_project(desktop.root).ok
    fixed = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(desktop.root), "validate", "--fix"],
        capture_output=True,
        text=True,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "resolved 1 conflicted annotation" in fixed.stdout and relpath in fixed.stdout
    merged = desktop.annotations("ffmpeg")
    [annotation] = [a for a in merged if a.run == run_id]
    # Both changed the rating: the later (desktop) wins; only the laptop wrote a note: it is kept.
    assert (annotation.rating, annotation.note) == (PASS, "the audio is dropped")
    assert annotation.rated_at == "2026-12-01T10:05:00Z"
    git(desktop.root, "add", relpath)
    git(desktop.root, "commit", "-qm", "merge")
    assert validate_project(desktop.root).ok and git(desktop.root, "status", "--porcelain") == ""
    # validate --fix installed the driver: the next divergence merges on its own.
    git(desktop.root, "push", "-q", "origin", "HEAD:main")
    git(laptop.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    _diverge(laptop, desktop, run_id, 20)
    pulled = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", "origin", "main"],
        cwd=desktop.root,
        capture_output=True,
        text=True,
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    [annotation] = [a for a in Project(desktop.root).annotations("ffmpeg") if a.run == run_id]
    # The base now says pass: only the laptop changed the rating (to fail), so its change is kept.
    assert annotation.rated_at == "2026-12-01T10:25:00Z" and annotation.rating == FAIL
    assert validate_project(desktop.root).ok and git(desktop.root, "status", "--porcelain") == ""


def test_driver_merges_in_both_directions_to_the_same_bytes(machines):
    laptop, desktop, run_id = machines
    for side in (laptop, desktop):
        assert (
            subprocess.run(
                [sys.executable, "-m", "kilngit", "-C", str(side.root), "validate", "--fix"],
                capture_output=True,
            ).returncode
            == 0
        )  # installs the driver
    _diverge(laptop, desktop, run_id, 0)
    git(desktop.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")
    relpath = layout.annotation_file("ffmpeg", ME, run_id)
    # and the other way round, from the laptop's side of the same two commits
    git(laptop.root, "fetch", "-q", str(desktop.root), "HEAD")
    git(laptop.root, "merge", "-q", "--no-edit", "FETCH_HEAD")
    assert (laptop.root / relpath).read_bytes() == (desktop.root / relpath).read_bytes()
    assert validate_project(laptop.root).ok
