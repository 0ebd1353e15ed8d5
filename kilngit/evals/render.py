"""Scoreboards, alignment tables and check results as plain tables (rows of text), printed with rich or as
Markdown. The HTML report draws its own tables from the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kilngit.evals.labels import LabelStats
from kilngit.evals.metrics import Correlation
from kilngit.evals.scores import GroupScores, Scoreboard
from kilngit.ratings import value_label

if TYPE_CHECKING:  # types only: `eval scores` alone does not import the alignment code
    from kilngit.evals.align import AlignmentTable, ScoreAlignment
    from kilngit.evals.check import CheckReport

WINNER = "*"


@dataclass
class TextTable:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def num(value: float | None, digits: int = 3) -> str:
    """A number for a table, '-' when undefined."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def corr(value: Correlation | None) -> str:
    return "-" if value is None else f"{value.value:.3f}"


def scoreboard_table(board: Scoreboard) -> TextTable:
    """The scoreboard as a table: one row per run config."""
    names = list(dict.fromkeys(name for g in board.groups for name in g.scores))
    table = TextTable(
        f"{board.task}/{board.eval}: scores by {board.judge} (judge id {board.judge_id})",
        [
            "run config",
            "model",
            "prompt",
            "n",
            *[f"{n} (95% CI)" for n in names],
            "quality",
            "missing",
            "tokens in/out",
            "cost/item",
            "latency p50/p95",
            "pareto",
        ],
    )
    for g in board.groups:
        cells = [g.group + (f" {WINNER}" if g.winner else ""), g.model or "-", g.prompt or "-", str(g.n)]
        for name in names:
            stat = g.scores.get(name)
            if stat is None or stat.mean is None:
                cells.append("-")
                continue
            ci = f" [{num(stat.low, 2)}, {num(stat.high, 2)}]" if stat.low is not None else ""
            cells.append(f"{num(stat.mean, 2)}{ci}" + (f" {WINNER}" if stat.winner else ""))
        cells += [
            num(g.quality, 2),
            _missing(g),
            f"{num(g.mean_input_tokens, 0)}/{num(g.mean_output_tokens, 0)}",
            "unknown" if g.cost_unknown else _money(g.mean_cost),
            f"{num(g.p50_latency_ms, 0)}/{num(g.p95_latency_ms, 0)} ms",
            "yes" if g.pareto else "",
        ]
        table.rows.append(cells)
    table.notes.append(
        f"{board.inputs} eval input(s), best first; {WINNER} = best; quality: mean normalized (0..1) "
        "score; pareto: no other run config is better on quality, cost and latency at once"
    )
    unknown = [g.group for g in board.groups if g.cost_unknown]
    if unknown:
        table.notes.append(
            f"cost unknown (no price for the model; not zero, left off the Pareto front): "
            f"{', '.join(unknown)}"
        )
    if board.thresholds:
        table.notes.append(
            "thresholds (normalized): " + ", ".join(f"{k} >= {v:g}" for k, v in board.thresholds.items())
        )
    for g in board.groups:
        for name, stat in g.scores.items():
            if stat.labels is not None:
                table.notes += label_notes(f"{g.group}/{name}", stat.labels, "output")
    if board.stale_results:
        table.notes.append(f"{board.stale_results} stale result(s) from older judge definitions ignored")
    if not board.groups:
        table.notes.append("no runs in the eval set yet")
    return table


def _missing(g: GroupScores) -> str:
    parts = []
    if g.missing_inputs:
        parts.append(f"{g.missing_inputs} not run")
    if g.unjudged:
        parts.append(f"{g.unjudged} not judged")
    if g.judge_errors:
        parts.append(f"{g.judge_errors} judge errors")
    if g.failed_runs:
        parts.append(f"{g.failed_runs} failed runs")
    if g.stale_runs:
        parts.append(f"{g.stale_runs} stale runs")
    return ", ".join(parts) or "0"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def alignment_tables(table: AlignmentTable, details: bool = True) -> list[TextTable]:
    """The judge alignment table and the inter-annotator agreement table (`details`: with the items the raters
    disagree on)."""
    judges = TextTable(
        f"{table.task}/{table.eval}: judges vs human consensus on the golden set ({table.golden} runs)",
        [
            "judge",
            "score",
            "n",
            "acc",
            "kappa",
            "tau",
            "rho",
            "r",
            "nMAE",
            "acc if always pass/fail",
            "disagree",
        ],
    )
    for j in table.judges:
        for s in j.scores:
            judges.rows.append(_alignment_row(j.judge + (f" {WINNER}" if j.default else ""), j.type, s))
    judges.notes.append(
        f"{WINNER} = default judge; acc, kappa: on pass/fail labels; tau, rho, r: Kendall, Spearman, "
        "Pearson; nMAE: normalized mean absolute error; acc if always pass/fail: a judge that ignores "
        "the output (kappa 0)"
    )
    pairs = dict.fromkeys(f"{s.score} ~ human {s.human_rating}" for j in table.judges for s in j.scores)
    judges.notes.append("compared: " + ", ".join(pairs))
    for j in table.judges:
        for s in j.scores:
            if s.labels is not None:
                judges.notes += label_notes(f"{j.judge}/{s.score}", s.labels)
            if s.problem:
                judges.notes.append(f"{j.judge}/{s.score}: {s.problem}")
            if s.no_consensus or s.not_judged:
                judges.notes.append(
                    f"{j.judge}/{s.score}: left out {s.no_consensus} item(s) without human "
                    f"consensus, {s.not_judged} not judged"
                )
    if table.stale_results:
        judges.notes.append(f"{table.stale_results} stale result(s) ignored")
    raters = TextTable(
        "human raters: agreement on the golden set",
        ["human rating", "raters", "items", "statistic", "value", "disagreements"],
    )
    for r in table.raters:
        raters.rows.append(
            [
                r.human_rating,
                str(len(r.raters)),
                str(r.items),
                r.statistic or "- (one rater)",
                num(r.value),
                str(len(r.disagreements)),
            ]
        )
        for d in r.disagreements if details else []:
            ratings = ", ".join(f"{k}: {_label(v, r.rating_type)}" for k, v in d.ratings.items())
            raters.notes.append(f"{r.human_rating} {d.run[:8]} {d.input[:60]!r}: {ratings}")
    return [judges, raters]


def label_notes(what: str, stats: LabelStats, predicted: str = "judge") -> list[str]:
    """A label score's accuracy, macro-F1 and confusion matrix (rows: human class) as note lines."""
    m = stats.confusion
    out = [
        f"{what}: label accuracy {num(stats.accuracy)}, macro-F1 {num(stats.macro_f1)} over {stats.n} item(s); "
        f"confusion (rows human, columns {predicted}: {', '.join(map(str, m.labels))}):"
    ]
    width = max(len(str(x)) for x in m.labels)
    out += [
        f"  {str(label):>{width}}: " + " ".join(f"{c:3d}" for c in row)
        for label, row in zip(m.labels, m.counts, strict=True)
    ]
    return out


def _alignment_row(judge: str, kind: str, s: ScoreAlignment) -> list[str]:
    r = s.report
    if s.labels is not None:
        return [
            f"{judge} [{kind}]",
            s.score,
            str(s.labels.n),
            num(s.labels.accuracy),
            *["-"] * 6,
            str(len(s.disagreements)),
        ]
    if r is None:
        return [f"{judge} [{kind}]", s.score, "0", *["-"] * 7, "0"]
    baselines = f"{num(r.always_pass.accuracy, 2)}/{num(r.always_fail.accuracy, 2)}"
    return [
        f"{judge} [{kind}]",
        s.score,
        str(r.n),
        num(r.accuracy),
        num(r.cohen_kappa),
        corr(r.kendall_tau),
        corr(r.spearman),
        corr(r.pearson),
        num(r.normalized_mae),
        baselines,
        str(len(s.disagreements)),
    ]


def _label(value: float | str, rating_type: str) -> str:
    return value if isinstance(value, str) else value_label(value, rating_type)


def check_table(report: CheckReport) -> TextTable:
    table = TextTable("eval check", ["eval", "judge", "run config", "score", "value", "threshold", "result"])
    for ev in report.evals:
        for c in ev.checks:
            table.rows.append(
                [
                    ev.eval,
                    ev.judge,
                    c.group,
                    c.score,
                    num(c.value),
                    f"{c.threshold:g}",
                    "ok" if c.ok else f"FAIL ({c.reason})",
                ]
            )
        if ev.gate is not None and not ev.gate.trusted:
            table.notes.append(f"{ev.eval}: {ev.gate.reason}")
        elif ev.gate is not None:
            values = ", ".join(
                f"{score} {num(v)} (n={ev.gate.items[score]})" for score, v in ev.gate.values.items()
            )
            table.notes.append(
                f"{ev.eval}: judge {ev.judge!r} trusted as a gate: {ev.gate.metric} {values} >= "
                f"{ev.gate.min:g}"
            )
        table.notes += [f"{ev.eval}: {p}" for p in ev.problems]
        if not ev.checks and not ev.problems and (ev.gate is None or ev.gate.trusted):
            table.notes.append(f"{ev.eval}: no thresholds set (nothing to check)")
    table.notes.append("passed" if report.ok else "FAILED")
    return table


def print_tables(tables: list[TextTable], fmt: str) -> None:
    """Print tables with rich (fmt "table") or as Markdown."""
    if fmt == "markdown":
        print("\n\n".join(markdown(t) for t in tables))
        return
    # rich loads only when a table is printed (~50 ms; report and serve never print one)
    from rich.console import Console
    from rich.table import Table

    terminal = Console()
    console = Console(width=terminal.width if terminal.is_terminal else 130)  # logs and pipes: no wrapping
    for t in tables:
        rich_table = Table(title=t.title, title_justify="left", show_lines=False)
        for header in t.headers:
            rich_table.add_column(header, overflow="fold")
        for row in t.rows:
            rich_table.add_row(*row)
        console.print(rich_table)
        for note in t.notes:
            console.print(f"  {note}", markup=False, highlight=False)
        console.print()


def markdown(t: TextTable) -> str:
    """A table as GitHub Markdown (title as a heading, notes as a list)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"### {t.title}",
        "",
        "| " + " | ".join(cell(h) for h in t.headers) + " |",
        "|" + "---|" * len(t.headers),
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
    if t.notes:
        lines += [""] + [f"- {cell(n)}" for n in t.notes]
    return "\n".join(lines)
