"""Fine-tune sections of `kilngit report` (listed in `kilngit.report.SECTIONS`): per fine-tune its
status, the training loss curve per step, and, for the eval-driven loop, each round's eval score as charts
(inline SVG) and a table."""

from __future__ import annotations

from html import escape

from kilngit.evals.report import Section
from kilngit.evals.report_svg import Bar, Series, bar_chart, line_chart
from kilngit.finetune.metrics import read_metrics
from kilngit.project import Project
from kilngit.records import FineTune, FineTuneRound, FineTuneStatus, StepMetrics


def report_sections(project: Project) -> list[Section]:
    """One section per fine-tune of every task."""
    sections = []
    for task in project.tasks():
        for name, spec in project.finetunes(task).items():
            status = project.finetune_status(task, name) or FineTuneStatus(task=task, finetune=name)
            rounds = list(project.finetune_rounds(task, name).values())
            html = (
                _status_table(spec, status)
                + _charts(read_metrics(project, task, name), rounds, status)
                + _rounds_table(rounds, status)
            )
            sections.append(Section(f"{task} / fine-tune {name}", html, f"finetune-{task}-{name}"))
    return sections


def _status_table(spec: FineTune, status: FineTuneStatus) -> str:
    rows = [
        ("provider", spec.provider),
        ("base model", spec.base_model),
        ("split", f"{spec.split}/{spec.train_part}"),
        ("train on", spec.train_on),
        ("state", status.state),
        ("job", status.provider_job_id),
        ("model", status.fine_tuned_model),
        ("run config", status.run_config),
        ("error", status.error),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows if v)
    return f"<table>{cells}</table>"


def _charts(metrics: list[StepMetrics], rounds: list[FineTuneRound], status: FineTuneStatus) -> str:
    charts = []
    series = [Series("train loss", [(m.step, m.loss) for m in metrics if m.loss is not None])]
    valid = [(m.step, m.metrics["valid_loss"]) for m in metrics if "valid_loss" in m.metrics]
    if valid:
        series.append(Series("valid loss", valid))
    if series[0].points or valid:
        charts.append(line_chart(series, x_label="step", y_label="loss", title="Training loss"))
    if rounds:
        bars = [
            Bar(
                f"round {r.round} (lr {r.learning_rate:.2g})", r.score, highlight=r.round == status.best_round
            )
            for r in rounds
        ]
        charts.append(bar_chart(bars, title=f"Eval score per round (threshold {rounds[-1].threshold:g})"))
        scored = [(r.round, r.score) for r in rounds if r.score is not None]
        if len(scored) > 1:
            threshold = [(scored[0][0], rounds[-1].threshold), (scored[-1][0], rounds[-1].threshold)]
            charts.append(
                line_chart(
                    [Series("score", scored), Series("threshold", threshold)],
                    x_label="round",
                    y_label="score",
                    title="Eval score by round",
                )
            )
    if not charts:
        return '<p class="notes">No training metrics yet.</p>'
    return f'<div class="charts">{"".join(charts)}</div>'


def _rounds_table(rounds: list[FineTuneRound], status: FineTuneStatus) -> str:
    if not rounds:
        return ""
    head = "<tr><th>round</th><th>lr</th><th>steps</th><th>loss</th><th>score</th><th>scores</th><th>run config</th></tr>"
    rows = []
    for r in rounds:
        mark = " (best)" if r.round == status.best_round else ""
        loss = "" if r.loss is None else f"{r.loss:.4g}"
        score = "" if r.score is None else f"{r.score:.3f}" + (" ✓" if r.reached_threshold else "")
        scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(r.scores.items()))
        rows.append(
            f"<tr><td>{r.round}{mark}</td><td class=num>{r.learning_rate:.3g}</td><td class=num>{r.steps}"
            f"</td><td class=num>{loss}</td><td class=num>{score}</td><td>{escape(scores)}</td>"
            f"<td><code>{escape(r.run_config)}</code></td></tr>"
        )
    return f"<table><caption>Rounds</caption>{head}{''.join(rows)}</table>"
