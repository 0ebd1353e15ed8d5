"""An audit report as text: a terminal table, Markdown (for a pull request or an issue), or lines for the
labeling queue and `kilngit review`."""

from __future__ import annotations

from io import StringIO

from kilngit.evals.audit import AuditReport, Suspect


def headline(report: AuditReport) -> str:
    """One line: how many suspects among how many golden items."""
    return (
        f"{report.task}/{report.eval} ({report.score} vs human {report.human_rating}): {len(report.suspects)} "
        f"suspect label(s) of {report.golden} golden item(s)"
    )


def evidence_lines(suspect: Suspect) -> list[str]:
    """What a re-reviewer is shown: the numbers, then each reason."""
    consensus = suspect.consensus or "none (raters split)"
    lines = [
        f"audit: P(consensus wrong) {suspect.p_wrong:.2f}"
        + (f" (judges alone {suspect.p_judges:.2f})" if suspect.p_judges is not None else "")
        + f"; consensus {consensus}, most likely {suspect.likely}"
    ]
    lines += [f"  - {r.text}" for r in suspect.reasons]
    return lines


def render_table(report: AuditReport, limit: int | None = None) -> str:
    """A rich table of the suspects, the annotators' estimated reliability and what would sharpen it."""
    # rich loads only when a table is printed (~50 ms; report and serve never print one)
    from rich.console import Console
    from rich.table import Table

    out = StringIO()
    console = Console(file=out, width=140, force_terminal=False, color_system=None)
    console.print(headline(report))
    table = Table("run", "P wrong", "judges", "consensus", "likely", "reasons", show_lines=True)
    for s in report.suspects[:limit]:
        table.add_row(
            s.run,
            f"{s.p_wrong:.2f}",
            "-" if s.p_judges is None else f"{s.p_judges:.2f}",
            s.consensus or "split",
            s.likely,
            "\n".join(f"- {r.text}" for r in s.reasons),
        )
    if report.suspects:
        console.print(table)
    reliability = Table("annotator", "kind", "items", "est. reliability")
    for a in report.annotators:
        reliability.add_row(a.name, a.kind, str(a.items), f"{a.reliability:.2f}")
    console.print(reliability)
    for line in report.sharpen:
        console.print(f"to sharpen: {line}", markup=False)
    return out.getvalue()


def render_markdown(report: AuditReport, limit: int | None = None) -> str:
    """The audit as Markdown."""
    lines = [
        f"## Label audit: {headline(report)}",
        "",
        "| run | P(wrong) | judges alone | consensus | likely | reasons |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in report.suspects[:limit]:
        why = "<br>".join(_md(r.text) for r in s.reasons)
        judges = "-" if s.p_judges is None else f"{s.p_judges:.2f}"
        lines.append(
            f"| `{s.run}` | {s.p_wrong:.2f} | {judges} | {s.consensus or 'split'} | {s.likely} | {why} |"
        )
    lines += ["", "| annotator | kind | items | estimated reliability |", "| --- | --- | --- | --- |"]
    lines += [f"| {_md(a.name)} | {a.kind} | {a.items} | {a.reliability:.2f} |" for a in report.annotators]
    if report.sharpen:
        lines += ["", "To sharpen the audit:", ""] + [f"- {_md(line)}" for line in report.sharpen]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
