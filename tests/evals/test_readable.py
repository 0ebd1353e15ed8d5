"""Results people can read: unknown cost is not zero (off the Pareto front, marked), the scoreboard is best
first with model and prompt columns, axes get round (integer where whole) ticks and a log cost axis, the
report header says when results are uncommitted, and in a real browser no chart label overlaps another."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kilngit.cli.main import main
from kilngit.evals.render import scoreboard_table
from kilngit.evals.report_svg import Point, _ticks, scatter_plot
from kilngit.evals.runner import run_eval
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.records import Source, TaskRun, Usage
from tests.conftest import git
from tests.evals.conftest import ITEMS, TASK, add_run

CHROMIUM = Path(os.environ.get("KILNGIT_CHROMIUM", "/usr/bin/chromium"))


def _unpriced(project: Project, config: str) -> None:
    """Runs of a fine-tuned-like config whose model has no price: cost unknown."""
    for text, good, _, _ in ITEMS:
        project.write_record(
            TaskRun(
                task=TASK,
                input=text,
                input_source=Source(type="human", created_by="a@b.c"),
                output=good,
                output_source=Source(
                    type="synthetic", provider="tinker", model=f"{config}-model", run_config=config
                ),
                usage=Usage(latency_ms=50.0),
                tags=["eval_set"],
            ).with_id()
        )


def _judged(project: Project) -> Project:
    run_eval(Project(project.root), None, "correctness", judges=["has-ffmpeg"], progress=False)
    return Project(project.root)


def test_unknown_cost_is_off_the_front_and_marked(eval_project):
    _unpriced(eval_project, "tuned")
    project = _judged(eval_project)
    board = eval_scores(project, TASK, "correctness", judge="has-ffmpeg")
    by = {g.group: g for g in board.groups}
    tuned = by["tuned"]
    assert tuned.mean_cost is None and tuned.cost_unknown == 6 and not tuned.pareto
    assert by["good"].pareto  # not dominated by a cheaper-looking config with an unknown cost
    assert [g.group for g in board.groups][0] in ("good", "tuned")  # best first
    assert [g.quality for g in board.groups] == sorted((g.quality for g in board.groups), reverse=True)
    table = scoreboard_table(board)
    assert table.headers[:3] == ["run config", "model", "prompt"]
    row = next(r for r in table.rows if r[0].startswith("tuned"))
    assert row[1] == "tinker/tuned-model" and "unknown" in row
    assert any("cost unknown" in n and "tuned" in n for n in table.notes)


def test_ticks_are_round_and_whole_on_unit_axes():
    assert _ticks(0, 3.4) == [0.0, 1.0, 2.0, 3.0]
    assert _ticks(1, 7) == [2, 4, 6]
    assert _ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0] or _ticks(0.0, 1.0) == [0.0, 0.5, 1.0]
    svg = scatter_plot(
        [Point("a", 0.0001, 0.5), Point("b", 0.01, 0.9, True)], x_label="cost", y_label="q", log_x=True
    )
    assert ">0.0001<" in svg and ">0.001<" in svg and ">0.01<" in svg


def test_crowded_labels_are_moved_or_listed():
    points = [Point(f"config-{i}", 0.001, 0.8, i == 0) for i in range(6)]
    svg = scatter_plot(points, x_label="cost", y_label="q", log_x=True)
    assert svg.count("label not drawn") >= 1 and svg.count("config-") >= 6 * 2  # every name is in the chart


def test_report_header_says_uncommitted(eval_project, tmp_path):
    git(eval_project.root, "add", "-A")
    git(eval_project.root, "commit", "-qm", "all")
    out = tmp_path / "site"
    assert main(["-C", str(eval_project.root), "report", "--out", str(out)]) == 0
    html = (
        next(out.rglob("index.html")).read_text()
        if list(out.rglob("index.html"))
        else next(out.rglob("*.html")).read_text()
    )
    assert "uncommitted" not in html
    _judged(eval_project)
    assert main(["-C", str(eval_project.root), "report", "--out", str(out)]) == 0
    html = next(out.rglob("*.html")).read_text()
    assert "with uncommitted changes" in html


def test_report_in_chromium_has_no_overlapping_labels(eval_project, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for i in range(5):  # configs crowding one corner of the cost and latency plots
        for text, good, _, _ in ITEMS:
            add_run(eval_project, text, good, f"crowd-{i}", cost=0.004 + i * 1e-6, latency=400 + i)
    _unpriced(eval_project, "tuned")
    run_eval(Project(eval_project.root), None, "correctness", progress=False)  # the default judge: exec
    project = Project(eval_project.root)
    out = tmp_path / "site"
    assert main(["-C", str(project.root), "report", "--out", str(out)]) == 0
    page_file = next(out.rglob("*.html"))
    html = page_file.read_text()
    assert html.count("<svg") >= 3 and "label not drawn" in html  # the crowd could not all be labelled
    with sync_api.sync_playwright() as p:
        home = tmp_path / "browser-home"  # Chromium writes its caches under HOME
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu"],
            env={
                **os.environ,
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_CACHE_HOME": str(home / ".cache"),
            },
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(page_file.as_uri())
            boxes = page.evaluate("""() => Array.from(document.querySelectorAll('svg')).map(svg =>
                Array.from(svg.querySelectorAll('text')).map(t => {
                    const b = t.getBoundingClientRect();
                    return [t.textContent, b.left, b.top, b.right, b.bottom];
                }))""")
        finally:
            browser.close()
    assert sum(len(b) for b in boxes) > 20
    for texts in boxes:
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                overlap = a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5 and a[2] < b[4] - 0.5 and b[2] < a[4] - 0.5
                assert not overlap, (a, b)
