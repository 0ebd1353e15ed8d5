"""`validate` on good and bad projects: every bad input gives a clear problem (file, field, fix), no crash."""

import json
import os
import time

import pytest

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.errors import NewerFormatError
from kilngit.load import load_record
from kilngit.records import Annotation, Rating
from kilngit.validate import validate_changed, validate_project
from tests.conftest import git


def _problems(project, severity="error"):
    report = validate_project(project.root)
    return [p for p in report.problems if p.severity == severity]


def _only(project, fragment):
    errors = _problems(project)
    assert errors, "expected a problem"
    assert any(fragment in p.message for p in errors), [str(p) for p in errors]
    for p in errors:
        assert p.path and p.fix
    return errors


@pytest.fixture
def run(project):
    return add_run(project, "ffmpeg", "convert a.mov to mp4", "ffmpeg -i a.mov a.mp4", ["eval_set"])


def test_fresh_project_is_valid(project, run):
    report = validate_project(project.root)
    assert report.ok, [str(p) for p in report.problems]
    assert report.kinds["task_run"] == 1 and report.kinds["task"] == 1


def test_truncated_json(project, run):
    path = project.root / layout.run_file("ffmpeg", run.id)
    path.write_bytes(path.read_bytes()[:40])
    errors = _only(project, "invalid JSON")
    assert "git checkout" in errors[0].fix


def test_wrong_type_names_the_field(project, run):
    path = project.root / layout.run_file("ffmpeg", run.id)
    data = json.loads(path.read_text())
    data["sample"] = "first"
    path.write_text(json.dumps(data))
    errors = _only(project, "integer")
    assert errors[0].pointer == "/sample"


def test_unknown_field_is_refused_not_dropped(project, run):
    path = project.root / layout.run_file("ffmpeg", run.id)
    data = json.loads(path.read_text())
    data["colour"] = "red"
    path.write_text(json.dumps(data))
    errors = _only(project, "Extra inputs")
    assert errors[0].pointer == "/colour" and "remove" in errors[0].fix


def test_newer_format_version_is_refused_with_upgrade_hint(project, run):
    path = project.root / layout.run_file("ffmpeg", run.id)
    data = json.loads(path.read_text())
    data["v"] = 2
    path.write_text(json.dumps(data))
    errors = _only(project, "newer kilngit")
    assert "upgrade" in errors[0].fix
    with pytest.raises(NewerFormatError):
        load_record(path)


def test_edited_machine_record_fails_its_content_hash(project, run):
    path = project.root / layout.run_file("ffmpeg", run.id)
    data = json.loads(path.read_text())
    data["output"] = "ffmpeg -i a.mov b.mp4"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    _only(project, "does not match the content hash")


def test_missing_reference(project, run):
    ann = Annotation(
        task="ffmpeg",
        run="0123456789abcdef",
        rater="alice@example.com",
        rating=Rating(type="pass_fail", value=1),
    )
    project.write_record(ann)
    errors = _only(project, "run 0123456789abcdef does not exist")
    assert errors[0].pointer == "/run"


def test_unknown_requirement_and_wrong_rating_type(project, run):
    ann = Annotation(
        task="ffmpeg",
        run=run.id,
        rater="bob@example.com",
        requirements={
            "speed": Rating(type="pass_fail", value=1),
            "no_destructive_actions": Rating(type="pass_fail", value=1),
        },
    )
    project.write_record(ann)
    messages = " | ".join(p.message for p in _problems(project))
    assert "no requirement 'speed'" in messages and "rated pass_fail_critical" in messages


def test_file_at_wrong_path(project, run):
    src = project.root / layout.run_file("ffmpeg", run.id)
    dest = project.root / layout.run_file("ffmpeg", "ff" + run.id[2:])
    dest.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dest)
    errors = _only(project, "file is named")
    assert layout.run_file("ffmpeg", run.id) in errors[0].fix


def test_unexpected_file_under_tasks(project):
    (project.root / "tasks/ffmpeg/notes.yaml").write_text("hello: 1\n")
    _only(project, "no record kind lives at this path")


def test_duplicated_identity_annotation_under_wrong_rater_folder(project, run):
    ann = Annotation(
        task="ffmpeg", run=run.id, rater="alice@example.com", rating=Rating(type="pass_fail", value=1)
    )
    project.write_record(ann)
    copy = project.root / layout.annotation_file("ffmpeg", "mallory@example.com", run.id)
    copy.parent.mkdir(parents=True)
    copy.write_bytes(ann.to_bytes())
    _only(project, "not at the path of its (rater, run)")


def test_yaml_bomb_is_refused_quickly(project):
    bomb = "kind: prompt\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=False)
    )
    (project.root / "tasks/ffmpeg/prompts/bomb.yaml").write_text(bomb)
    start = time.perf_counter()
    _only(project, "aliases")
    assert time.perf_counter() - start < 60  # guards the hang a bomb would be


def test_huge_file_is_refused(project):
    (project.root / "tasks/ffmpeg/prompts/huge.yaml").write_text(
        "kind: prompt\nsystem: " + "x" * (2 << 20) + "\n"
    )
    _only(project, "over the")


def test_non_utf8_bytes(project):
    (project.root / "tasks/ffmpeg/prompts/latin.yaml").write_bytes(b"kind: prompt\nsystem: caf\xe9\n")
    _only(project, "not UTF-8")


def test_symlink_outside_project(project, tmp_path):
    outside = tmp_path / "secret.yaml"
    outside.write_text("kind: prompt\n")
    os.symlink(outside, project.root / "tasks/ffmpeg/prompts/evil.yaml")
    _only(project, "symlink")


def test_missing_prompt_of_run_config(project):
    (project.root / "tasks/ffmpeg/run_configs").mkdir()
    (project.root / "tasks/ffmpeg/run_configs/fast.yaml").write_text(
        "kind: run_config\nprovider: openai\nmodel: gpt-4o-mini\nprompt: nope\n"
    )
    errors = _only(project, "prompt 'nope' does not exist")
    assert errors[0].pointer == "/prompt"


def test_not_canonical_is_a_warning_that_fix_repairs(project, run):
    from kilngit.validate import fix_canonical

    path = project.root / layout.run_file("ffmpeg", run.id)
    path.write_text(json.dumps(json.loads(path.read_text())))
    report = validate_project(project.root)
    assert report.ok and report.problems[0].code == "not_canonical"
    assert fix_canonical(project.root, report) == 1
    assert validate_project(project.root).problems == []


def test_changed_only_checks_changed_files(project, run):
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "run")
    bad = project.root / "tasks/ffmpeg/prompts/broken.yaml"
    bad.write_text("kind: prompt\nsystem: [unclosed\n")
    report = validate_changed(project.root)
    assert report.files == 1 and not report.ok
    bad.unlink()
    assert validate_changed(project.root).files == 0


def test_staged_only_checks_what_the_commit_will_contain(project, run):
    bad = project.root / "tasks/ffmpeg/prompts/broken.yaml"
    bad.write_text("kind: prompt\nsystem: [unclosed\n")
    assert validate_changed(project.root, staged_only=True).files == 0  # not staged yet
    git(project.root, "add", str(bad))
    report = validate_changed(project.root, staged_only=True)
    assert report.files == 1 and not report.ok


def test_changed_lists_files_inside_new_untracked_folders(project, run):
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "run")
    new = project.root / "tasks/ffmpeg/evals/fresh/judges"
    new.mkdir(parents=True)
    (new / "j.yaml").write_text("kind: judge\ntype: valid_json\nscore: ok\n")
    report = validate_changed(project.root)
    assert report.files == 1 and report.kinds["judge"] == 1
