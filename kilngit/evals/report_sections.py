"""The eval sections of the static report: per eval, the scoreboard (table, bars with CIs, Pareto plots), the
judge alignment table, confusion matrices, judge/human disagreements, and the raters' agreement."""

from __future__ import annotations

from html import escape

from kilngit.evals.align import AlignmentTable, JudgeAlignment, ScoreAlignment, eval_alignment
from kilngit.evals.metrics import ConfusionMatrix, normalize
from kilngit.evals.render import TextTable, alignment_tables, scoreboard_table
from kilngit.evals.report import Section
from kilngit.evals.report_svg import Bar, Point, bar_chart, scatter_plot
from kilngit.evals.results import eval_results
from kilngit.evals.scores import Scoreboard, eval_scores
from kilngit.project import Project


def eval_sections(project: Project) -> list[Section]:
    """One section per eval of every task."""
    sections = []
    for task in project.tasks():
        for eval_slug, ev in project.evals(task).items():
            title = f"{task} / {ev.name}" if ev.name != eval_slug else f"{task} / {eval_slug}"
            sections.append(
                Section(title, eval_section_html(project, task, eval_slug), f"eval-{task}-{eval_slug}")
            )
    return sections


def html_table(table: TextTable, with_title: bool = True) -> str:
    """A `TextTable` as an HTML table (title as a caption, notes as a list below)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    caption = f"<caption>{escape(table.title)}</caption>" if with_title else ""
    notes = "".join(f"<li>{escape(n)}</li>" for n in table.notes)
    return (
        f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        + (f'<ul class="notes">{notes}</ul>' if notes else "")
    )


def eval_section_html(project: Project, task: str, eval_slug: str) -> str:
    """Everything the report shows about one eval."""
    results = eval_results(project, task, eval_slug)
    ev = results.eval
    parts = [f"<p>{escape(ev.description)}</p>" if ev.description else ""]
    judges = [results.eval.default_judge] if results.eval.default_judge else list(results.judges)[:1]
    for judge in [j for j in judges if j]:
        board = eval_scores(project, task, eval_slug, judge, results=results)
        parts.append(_scoreboard_html(board))
    table = eval_alignment(project, task, eval_slug, results=results)
    parts.append(_alignment_html(table))
    return "".join(parts)


def _scoreboard_html(board: Scoreboard) -> str:
    parts = ["<h3>Scoreboard</h3>", html_table(scoreboard_table(board))]
    names = list(dict.fromkeys(n for g in board.groups for n in g.scores))
    charts = []
    for name in names:
        bars = []
        for g in board.groups:
            stat = g.scores.get(name)
            lo_hi = _normalized_ci(stat) if stat else (None, None)
            bars.append(
                Bar(g.group, stat.normalized if stat else None, *lo_hi, highlight=bool(stat and stat.winner))
            )
        charts.append(bar_chart(bars, title=f"{name} (normalized mean, 95% CI)"))
    quality = [g for g in board.groups if g.quality is not None]
    for attr, label in (
        ("mean_cost", "cost per item (USD, log scale)"),
        ("p50_latency_ms", "p50 latency (ms)"),
    ):
        points = [
            Point(g.group, getattr(g, attr), g.quality, g.pareto)  # type: ignore[arg-type]
            for g in quality
            if getattr(g, attr) is not None
        ]
        if len(points) > 1:
            charts.append(
                scatter_plot(
                    points,
                    x_label=label,
                    y_label="quality (0..1)",
                    log_x=attr == "mean_cost",
                    title=f"Quality vs {label.split(' (')[0]} (blue: Pareto front)",
                )
            )
    unknown = [g.group for g in quality if g.mean_cost is None]
    if unknown and any(g.mean_cost is not None for g in quality):
        parts.append(
            f"<p>Cost unknown (not drawn, not on the Pareto front): {escape(', '.join(unknown))}</p>"
        )
    parts.append('<div class="charts">' + "".join(charts) + "</div>")
    for g in board.groups:
        for name, stat in g.scores.items():
            if stat.labels is not None:
                parts.append(
                    f"<details><summary>{escape(g.group)} on {escape(name)}: accuracy "
                    f"{stat.labels.accuracy or 0:.3f}, macro-F1 {stat.labels.macro_f1 or 0:.3f}</summary>"
                    + confusion_html(stat.labels.confusion).replace("judge: ", "output: ")
                    + "</details>"
                )
    return "".join(parts)


def _normalized_ci(stat) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    if stat.low is None or stat.high is None:
        return None, None
    return normalize(stat.low, stat.type), normalize(stat.high, stat.type)


def _alignment_html(table: AlignmentTable) -> str:
    judges_table, raters_table = alignment_tables(table)
    parts = ["<h3>Judges vs humans</h3>", html_table(judges_table)]
    for judge in table.judges:
        for score in judge.scores:
            parts.append(_judge_detail(judge, score))
    parts += ["<h3>Human raters</h3>", html_table(raters_table)]
    return "".join(parts)


def _judge_detail(judge: JudgeAlignment, score: ScoreAlignment) -> str:
    report = score.report
    if report is None and score.labels is None:
        return ""
    body = []
    if score.labels is not None:
        body.append(
            f"<p>accuracy {score.labels.accuracy or 0:.3f}, macro-F1 {score.labels.macro_f1 or 0:.3f}</p>"
        )
        body.append(confusion_html(score.labels.confusion))
    elif report is not None and report.confusion_matrix is not None:
        body.append(confusion_html(report.confusion_matrix))
    if score.disagreements:
        rows = "".join(
            f"<tr><td><code>{escape(d.run[:10])}</code></td><td>{escape(d.input)}</td><td><code>{escape(d.output)}"
            f"</code></td><td>{_value(d.human)}</td><td>{_value(d.judge)}</td><td>{escape(d.why or '')}</td></tr>"
            for d in score.disagreements
        )
        body.append(
            '<div class="scroll"><table><thead><tr><th>run</th><th>input</th><th>output</th><th>human</th>'
            f"<th>judge</th><th>judge's reason</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    n = score.labels.n if score.labels is not None else report.n if report is not None else 0
    summary = (
        f"{escape(judge.judge)} on {escape(score.score)}: {len(score.disagreements)} disagreement(s) "
        f"with humans over {n} item(s)"
    )
    return f"<details><summary>{summary}</summary>{''.join(body)}</details>"


def _value(v: float | str) -> str:
    return escape(v) if isinstance(v, str) else f"{v:.2f}"


def confusion_html(matrix: ConfusionMatrix) -> str:
    """A confusion matrix (rows: human, columns: judge) with cells shaded by their share of the row."""
    labels = [str(label) for label in matrix.labels]
    head = "".join(f"<th>judge: {escape(label)}</th>" for label in labels)
    rows = []
    for i, label in enumerate(labels):
        total = sum(matrix.counts[i]) or 1
        cells = []
        for j, count in enumerate(matrix.counts[i]):
            share = count / total
            hue = "22,163,74" if i == j else "220,38,38"
            cells.append(
                f'<td class="num" style="background: rgba({hue},{0.12 + 0.6 * share:.2f})">{count}</td>'
            )
        rows.append(f"<tr><th>human: {escape(label)}</th>{''.join(cells)}</tr>")
    return f'<table class="confusion"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
