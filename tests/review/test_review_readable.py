"""The review comment on big ranges: identical golden-set changes of several evals in one table, definition
changes counted per kind, and judge edits shown as diffs with the number of results they made stale."""

from __future__ import annotations

from kilngit import layout
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import Eval, EvalScore, Judge
from kilngit.review.diff import review
from kilngit.review.render import render
from kilngit.review.tagging import tag_runs
from tests.conftest import git
from tests.review.conftest import commit
from tests.review.history import model_run


def test_big_range_is_summarised(project):
    runs = [
        model_run(project, f"request {i}", f"ffmpeg -i {i}.mov {i}.mp4", tags=["eval_set"]) for i in range(4)
    ]
    for slug in ("alpha", "beta", "gamma"):
        project.write_definition(
            layout.eval_file("ffmpeg", slug),
            Eval(
                name=slug,
                scores=[EvalScore(name="correct_command", instruction="Does it work?")],
                default_judge="contains",
            ),
        )
        project.write_definition(
            layout.judge_file("ffmpeg", slug, "contains"),
            Judge(type="contains", score="correct_command", pattern="ffmpeg -i"),
        )
    for slug in ("alpha", "beta", "gamma"):
        run_eval(Project(project.root), "ffmpeg", slug, progress=False)
    base = commit(Project(project.root), "base")
    git(project.root, "checkout", "-qb", "pr")
    project = Project(project.root)
    tag_runs(project, "ffmpeg", "all", add=["golden"], rater="ana@example.com")
    for slug in ("alpha", "beta", "gamma"):
        ev = project.evals("ffmpeg")[slug]
        project.write_definition(
            layout.eval_file("ffmpeg", slug), ev.model_copy(update={"description": "v2"})
        )
    project.write_definition(
        layout.judge_file("ffmpeg", "alpha", "contains"),
        Judge(type="contains", score="correct_command", pattern="ffmpeg"),
    )
    commit(project, "pr")
    result = review(project.root, f"{base}...pr")
    md = render(result, "markdown")
    assert md.count("### golden set of") == 1 and "ffmpeg/alpha, ffmpeg/beta, ffmpeg/gamma: +4" in md
    assert "3 eval modified" in md and "eval modified, eval modified" not in md
    [edit] = result.judges
    assert edit.path.endswith("alpha/judges/contains.yaml") and "-pattern: ffmpeg -i" in edit.diff
    assert "+pattern: ffmpeg" in edit.diff and "```diff" in md
    assert edit.stale == len(runs) and f"{len(runs)} result(s) made stale" in md
    assert "| judge results made stale by judge edits | 4" in md
    text = render(result, "text")
    assert "golden set of ffmpeg/alpha, ffmpeg/beta, ffmpeg/gamma" in text
