"""Two people on two clones add runs and annotate the same runs; merging either way never conflicts and the
effective state is right."""

import subprocess

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.project import Project
from kilngit.records import Annotation, Rating
from kilngit.validate import validate_project
from tests.conftest import git


def _rate(project, run_id, rater, value, tags_added=(), tags_removed=()):
    project.write_record(
        Annotation(
            task="ffmpeg",
            run=run_id,
            rater=rater,
            rating=Rating(type="pass_fail", value=value),
            tags_added=sorted(tags_added),
            tags_removed=sorted(tags_removed),
        )
    )


def _commit(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


@pytest.fixture
def clones(project, tmp_path):
    shared = add_run(
        project,
        "ffmpeg",
        "trim talk.mkv to the first 10 seconds",
        "ffmpeg -i talk.mkv -t 10 -c copy talk_10s.mkv",
        ["eval_set"],
    )
    _commit(project.root, "seed")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(project.root), str(remote))
    a, b = tmp_path / "alice", tmp_path / "bob"
    for clone in (a, b):
        git(tmp_path, "clone", "-q", str(remote), str(clone))
    return Project(a), Project(b), shared.id


@pytest.mark.parametrize("order", ["alice_first", "bob_first"])
def test_two_clones_merge_without_conflicts(clones, order):
    alice, bob, shared = clones
    # Both add runs, one of them identical on both sides (same content -> same ID -> same bytes).
    same_a = add_run(
        alice,
        "ffmpeg",
        "extract audio from clip.mp4",
        "ffmpeg -i clip.mp4 -vn clip.mp3",
        author="carol@example.com",
    )
    same_b = add_run(
        bob,
        "ffmpeg",
        "extract audio from clip.mp4",
        "ffmpeg -i clip.mp4 -vn clip.mp3",
        author="carol@example.com",
    )
    assert same_a.id == same_b.id
    only_a = add_run(alice, "ffmpeg", "scale intro.mp4 to 720p", "ffmpeg -i intro.mp4 -vf scale=-2:720 o.mp4")
    only_b = add_run(bob, "ffmpeg", "make a gif of the first 3s", "ffmpeg -t 3 -i in.mp4 out.gif")
    # Both rate the shared run: differently, and both rate one run identically... each in their own file.
    _rate(alice, shared, "alice@example.com", 1.0, tags_added={"golden"})
    _rate(bob, shared, "bob@example.com", 0.0, tags_removed={"eval_set"})
    _rate(alice, same_a.id, "alice@example.com", 1.0)
    _rate(bob, same_b.id, "bob@example.com", 1.0)
    _commit(alice.root, "alice's work")
    _commit(bob.root, "bob's work")

    first, second = (alice, bob) if order == "alice_first" else (bob, alice)
    git(first.root, "push", "-q", "origin", "HEAD:main")
    git(second.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")  # a real merge commit
    git(second.root, "push", "-q", "origin", "HEAD:main")
    git(first.root, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")

    for side in (alice, bob):
        assert git(side.root, "status", "--porcelain") == ""
        merged = Project(side.root)
        assert validate_project(merged.root).ok
        assert set(merged.runs("ffmpeg")) == {shared, same_a.id, only_a.id, only_b.id}
        states = merged.states("ffmpeg")
        # alice passed, bob failed the shared run: disputed, no consensus value.
        assert states[shared].disputed and states[shared].rating.value is None
        assert states[shared].tags == {"golden"}  # bob's removal of eval_set wins, alice's golden is added
        assert states[same_a.id].rating.value == 1.0 and not states[same_a.id].disputed
    assert git(alice.root, "rev-parse", "HEAD") == git(bob.root, "rev-parse", "HEAD")


def test_same_run_written_twice_is_byte_identical(project):
    first = add_run(project, "ffmpeg", "x", "y", author="a@example.com")
    path = project.root / layout.run_file("ffmpeg", first.id)
    before = path.stat().st_mtime_ns
    again = add_run(project, "ffmpeg", "x", "y", author="a@example.com")
    assert again.id == first.id and path.stat().st_mtime_ns == before  # not rewritten
    assert subprocess.run(
        ["git", "status", "--porcelain"], cwd=project.root, capture_output=True, text=True
    ).stdout


def test_written_files_are_shareable(project):
    run = add_run(project, "ffmpeg", "x", "y", author="a@example.com")
    mode = (project.root / layout.run_file("ffmpeg", run.id)).stat().st_mode & 0o777
    assert mode & 0o044 == 0o044  # group and others can read, as with any file git checks out
