"""`kilngit review`: rating, tag, golden-set, record and definition changes, eval effects, ranges, formats,
and the GitHub comment size limit, on real git histories."""

from __future__ import annotations

import json
import shutil

import pytest

from kilngit import layout
from kilngit.cli.main import main
from kilngit.errors import UsageError
from kilngit.project import Project
from kilngit.records import Annotation
from kilngit.review.diff import review
from kilngit.review.render import GITHUB_COMMENT_LIMIT, MARKER, render
from tests.conftest import git
from tests.review.conftest import commit
from tests.review.history import ALICE, BOB, build_history, model_run


@pytest.fixture
def history(project):
    return build_history(project)


def test_ratings_tags_golden_records_and_definitions(history):
    result = review(history.project.root, f"{history.base}...{history.head}")
    c = result.changes
    golden = sorted(r.id for r in history.runs if "golden" in r.tags)
    bad = next(r for r in history.runs if r.output == "rm -rf /")
    seen = {(r.run, r.rater): r for r in c.ratings}
    assert set(seen) == {(golden[0], ALICE), (golden[0], BOB), (bad.id, BOB)}
    alice = {f.field: (f.before, f.after) for f in seen[golden[0], ALICE].fields}
    assert alice == {"correct_command": ("pass", "fail"), "note": ("-", "wrong codec")}
    assert seen[golden[0], ALICE].status == "modified" and seen[golden[0], BOB].status == "added"
    bob = {f.field: (f.before, f.after) for f in seen[bad.id, BOB].fields}
    assert bob["overall"] == ("-", "critical") and bob["tags"] == ("-", "+golden")
    assert seen[bad.id, BOB].input == bad.input
    # effective tags: only runs that existed before (new runs are counted as new runs)
    assert [(t.run, t.before, t.after) for t in c.tags] == [(bad.id, ["eval_set"], ["eval_set", "golden"])]
    sets = {s.which: s for s in c.sets}
    assert sets["golden_set"].added == [bad.id] and sets["golden_set"].removed == []
    assert (sets["golden_set"].size_before, sets["golden_set"].size_after) == (2, 3)
    assert sorted(sets["eval_set"].added) == sorted(r.id for r in history.new_runs)
    records = {(r.kind, r.origin, r.status): r.count for r in c.records}
    assert records == {("task_run", "fast", "added"): 2, ("judge_result", "accuracy/contains", "added"): 2}
    assert [(d.path, d.kind, d.status) for d in c.definitions] == [
        ("tasks/ffmpeg/evals/accuracy/eval.yaml", "eval", "modified")
    ]
    assert result.problems == [] and result.changed_files == 8


def test_eval_score_and_agreement_deltas(history):
    result = review(history.project.root, f"{history.base}...{history.head}")
    [score] = result.scores
    assert (score.eval, score.judge, score.group, score.score) == (
        "accuracy",
        "contains",
        "fast",
        "correct_command",
    )
    # base: 3 of 4 outputs contain "ffmpeg -i"; the branch adds one that does and one that does not
    assert (score.before, score.after, score.n_before, score.n_after) == (0.75, pytest.approx(4 / 6), 4, 6)
    [agreement] = result.agreement
    assert (agreement.judge, agreement.score, agreement.metric) == ("contains", "correct_command", "accuracy")
    # base: both golden runs pass, judge agrees; branch: one turns fail (judge still passes), one critical joins
    assert (agreement.before, agreement.after) == (1.0, pytest.approx(2 / 3))
    assert (agreement.n_before, agreement.n_after) == (2, 3)


def test_judge_rerun_without_rating_changes_shows_only_score_effects(history):
    project = history.project
    judge_all_fail = {r.id: 0.0 for r in history.runs + history.new_runs}
    from tests.review.history import judge_all

    ev = project.evals("ffmpeg")["accuracy"]
    from kilngit import layout
    from kilngit.records import Judge

    project.write_definition(
        layout.judge_file("ffmpeg", "accuracy", "strict"),
        Judge(type="contains", score="correct_command", pattern="-c:v"),
    )
    project.write_definition(
        layout.eval_file("ffmpeg", "accuracy"), ev.model_copy(update={"default_judge": "strict"})
    )
    judge_all(Project(project.root), history.runs + history.new_runs, judge_all_fail, judge="strict")
    head = commit(project, "new default judge")
    result = review(project.root, f"{history.head}..{head}")
    assert result.changes.ratings == [] and result.changes.tags == []
    rows = [(s.judge, s.before, s.after) for s in result.scores if s.changed]
    assert rows == [("contains", pytest.approx(4 / 6), None), ("strict", None, 0.0)]
    # golden after: one pass and two fails (by consensus); a judge failing everything gets 2 of 3 right
    assert [(a.judge, a.after) for a in result.agreement if a.changed] == [("strict", pytest.approx(2 / 3))]
    kinds = {(d.kind, d.status) for d in result.changes.definitions}
    assert kinds == {("judge", "added"), ("eval", "modified")}


def test_range_forms(history):
    root = history.project.root
    three = review(root, f"{history.base}...{history.head}")
    assert review(root, history.base).changes == three.changes  # a single BASE means BASE...HEAD (HEAD = pr)
    assert review(root, f"{history.base}..{history.head}").changes == three.changes
    # two dots compare the commits themselves; three dots start from the merge base
    git(root, "checkout", "-q", history.base)
    git(root, "checkout", "-qb", "other")
    model_run(Project(root), "only on other", "ffmpeg -i x y")
    other = commit(Project(root), "other")
    assert review(root, f"{other}...{history.head}").range.base == history.base
    two = review(root, f"{other}..{history.head}")
    assert any(r.status == "deleted" and r.kind == "task_run" for r in two.changes.records)
    with pytest.raises(UsageError, match="unknown revision"):
        review(root, "nope...HEAD")


def test_formats_and_cli(history, capsys):
    root = str(history.project.root)
    spec = f"{history.base}...{history.head}"
    assert main(["-C", root, "review", spec, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert (
        md.startswith(MARKER + "\n")
        and "| ratings changed | 3 (alice&#64;example.com: 1, bob&#64;example.com: 2) |" in md
    )
    assert "| ffmpeg/accuracy | contains | fast | correct_command | 0.750 | 0.667 | -0.083 | 4 → 6 |" in md
    assert (
        "| ffmpeg/accuracy | contains | correct_command | accuracy | 1.000 | 0.667 | -0.333 | 2 → 3 |" in md
    )
    assert "<details>" not in md  # short sections stay open
    assert main(["-C", root, "review", spec, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["range"]["head"] == history.head and len(data["changes"]["ratings"]) == 3
    assert data["scores"][0]["changed"] is True and data["agreement"][0]["after"] == pytest.approx(2 / 3)
    assert main(["-C", root, "review", spec]) == 0
    text = capsys.readouterr().out
    assert "ratings changed: 3" in text and "correct_command: pass → fail" in text and "<" not in text
    assert main(["-C", root, "review", "nope"]) == 2
    assert "fetch-depth: 0" in capsys.readouterr().err


def test_rewritten_machine_records_are_flagged(history):
    project = history.project
    run = history.runs[0]
    path = project.root / layout.run_file("ffmpeg", run.id)
    path.write_text(path.read_text().replace("request", "REQUEST"))
    (project.root / layout.run_file("ffmpeg", history.runs[1].id)).unlink()
    head = commit(project, "tamper")
    result = review(project.root, f"{history.head}...{head}")
    statuses = {(r.kind, r.status): r.count for r in result.changes.records}
    assert statuses == {("task_run", "deleted"): 1, ("task_run", "modified"): 1}
    assert any("does not match the content hash" in p for p in result.problems)
    assert "machine records changed or deleted" in render(result, "markdown")


def test_project_created_in_the_range_and_project_in_a_subfolder(_template_project, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README").write_text("code lives here\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code")
    base = git(repo, "rev-parse", "HEAD")
    shutil.copytree(_template_project, repo / "ai", ignore=shutil.ignore_patterns(".git"))
    project = Project(repo / "ai")
    run = model_run(project, "hello", "ffmpeg -i a b")
    from kilngit.review.rating import RatingChange, parse_overall, rate

    rate(project, run.id, RatingChange(overall=parse_overall("pass")), ALICE)
    head = commit(project, "add project")
    result = review(project.root, f"{base}...{head}")
    assert [(r.run, r.status) for r in result.changes.ratings] == [(run.id, "added")]
    assert {d.kind for d in result.changes.definitions} == {"project", "task", "prompt"}
    git(repo, "checkout", "-qb", "more")
    rate(project, run.id, RatingChange(overall=parse_overall("fail")), BOB)
    result = review(project.root, f"{head}...{commit(project)}")
    assert [(r.rater, r.fields[0].after) for r in result.changes.ratings] == [(BOB, "fail")]
    assert result.changed_files == 1


def _write_fast(project: Project, record) -> None:
    """Test data in bulk: canonical bytes at the record's path, without the fsyncs of `write_record`."""
    from kilngit import layout

    path = project.root / layout.record_path(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(record.to_bytes())


def test_huge_diff_fits_in_one_comment(project):
    """600 runs rated with long notes: the markdown is cut to GitHub's limit and says so."""
    from kilngit.records import Source, TaskRun

    source = Source(type="synthetic", provider="fake", model="m-1", run_config="fast")
    runs = [
        TaskRun(
            task="ffmpeg",
            input=f"request number {i}",
            input_source=source,
            output=f"ffmpeg -i {i}.mov x.mp4",
            output_source=source,
            tags=["eval_set"],
        ).with_id()
        for i in range(600)
    ]
    for run in runs:
        _write_fast(project, run)
    base = commit(project, "runs")
    for run in runs:
        _write_fast(
            project,
            Annotation(
                task="ffmpeg",
                run=run.id,
                rater=ALICE,
                rating={"type": "pass_fail", "value": 1.0},
                tags_added=["golden"],
                note="a long note explaining the rating " * 4,
            ),
        )
    head = commit(project, "ratings")
    result = review(project.root, f"{base}...{head}")
    assert len(result.changes.ratings) == 600 and len(result.changes.tags) == 600
    md = render(result, "markdown")
    assert len(md) <= GITHUB_COMMENT_LIMIT and md.startswith(MARKER)
    assert "left out to stay within GitHub's 65,536-character comment limit" in md
    assert (
        "<details><summary>600 rows</summary>" in md
        and "| ratings changed | 600 (alice&#64;example.com: 600) |" in md
    )
    small = render(result, "markdown", limit=3000)
    assert len(small) <= 3000 and "| ratings changed |" in small
    assert len(render(result, "text")) > GITHUB_COMMENT_LIMIT  # text and json are never cut


def test_cleared_rating_shows_as_deleted_and_mentions_are_defused(history):
    from kilngit.review.rating import RatingChange, rate

    project = history.project
    golden = sorted(r.id for r in history.runs if "golden" in r.tags)
    rate(project, golden[1], RatingChange(clear=True), ALICE)
    rate(project, golden[0], RatingChange(note="ask @octocat | why"), BOB)
    result = review(project.root, f"{history.head}...{commit(project, 'clear')}")
    seen = {(r.run, r.rater): r for r in result.changes.ratings}
    cleared = seen[golden[1], ALICE]
    assert cleared.status == "deleted"
    assert [(f.field, f.before, f.after) for f in cleared.fields] == [
        ("overall", "pass", "-"),
        ("correct_command", "pass", "-"),
    ]
    md = render(result, "markdown")
    assert "note: - → ask &#64;octocat \\| why" in md and "@" not in md.replace(MARKER, "")
