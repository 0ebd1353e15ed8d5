"""The static HTML report: written, self-contained (nothing fetched), with every eval's parts, and open to extra
sections from other packages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from kilngit.cli.main import main
from kilngit.evals.report_svg import Series, line_chart
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.report import Section, write_report


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.refs += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href", "action")]


def parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def test_report_is_self_contained_and_complete(eval_project, tmp_path, capsys):
    run_eval(Project(eval_project.root), None, "correctness", progress=False)
    out = tmp_path / "site"
    assert main(["-C", str(eval_project.root), "report", "--out", str(out)]) == 0
    path = out / "index.html"
    assert capsys.readouterr().out.strip() == str(path)
    html = path.read_text(encoding="utf-8")
    links = parse(html)
    assert all(ref.startswith("#") for ref in links.refs), links.refs
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert {"script", "link", "img", "iframe"}.isdisjoint(links.tags)
    for part in (
        "Scoreboard",
        "Judges vs humans",
        "Human raters",
        "human: pass",
        "judge: fail",
        "<svg",
        "Quality vs cost",
        "good *",
        "disagreement(s) with humans",
        "starts with ffmpeg",
    ):
        assert part in html, part
    assert path.stat().st_mode & 0o044 == 0o044  # readable when served


def test_report_takes_extra_sections(eval_project, tmp_path):
    def finetune_sections(project: Project) -> list[Section]:
        chart = line_chart(
            [Series("train", [(1, 2.0), (2, 1.2), (3, 0.9)]), Series("validation", [(1, 2.1), (3, 1.4)])],
            x_label="step",
            y_label="loss",
            title="Loss",
        )
        return [Section("Fine-tune <demo>", chart)]

    path = write_report(Project(eval_project.root), tmp_path / "r", extra=[finetune_sections])
    html = path.read_text()
    assert "<h2>Fine-tune &lt;demo&gt;</h2>" in html and 'href="#fine-tune-demo"' in html
    assert html.count("<path") >= 3


def test_report_of_a_project_without_evals(project, tmp_path):
    html = write_report(project, tmp_path / "empty").read_text()
    assert "No evals yet" in html
