"""The label audit's section of `kilngit report`: per eval, the suspect golden labels and why."""

from __future__ import annotations

from html import escape

from kilngit.errors import KilngitError
from kilngit.evals.audit import audit_eval
from kilngit.evals.report import Section
from kilngit.project import Project

TOP = 15


def report_sections(project: Project) -> list[Section]:
    """One section per eval whose golden labels can be weighed against at least one judge."""
    sections = []
    for task in project.tasks():
        for eval_slug in project.evals(task):
            try:
                report = audit_eval(project, task, eval_slug)
            except KilngitError:
                continue
            if not report.golden or not any(a.kind != "person" for a in report.annotators):
                continue
            rows = "".join(
                f"<tr><td><code>{escape(s.run)}</code></td><td>{s.p_wrong:.2f}</td>"
                f"<td>{'-' if s.p_judges is None else f'{s.p_judges:.2f}'}</td>"
                f"<td>{escape(s.consensus or 'split')}</td><td>{escape(s.likely)}</td>"
                f"<td>{'<br>'.join(escape(r.text) for r in s.reasons)}</td></tr>"
                for s in report.suspects[:TOP]
            )
            more = len(report.suspects) - TOP
            html = (
                f"<p>{len(report.suspects)} of {report.golden} golden labels are suspect (probability the "
                f"human consensus is wrong at least 0.5; <code>kilngit audit {escape(eval_slug)}</code> for "
                f"all, <code>--queue</code> to re-review them).</p>"
            )
            if rows:
                html += (
                    "<table><tr><th>run</th><th>P(wrong)</th><th>judges alone</th><th>consensus</th>"
                    f"<th>likely</th><th>reasons</th></tr>{rows}</table>"
                )
            if more > 0:
                html += f"<p>… and {more} more.</p>"
            html += "".join(f"<p>To sharpen: {escape(line)}</p>" for line in report.sharpen)
            sections.append(Section(f"{task} / {eval_slug}: label audit", html, f"audit-{task}-{eval_slug}"))
    return sections
