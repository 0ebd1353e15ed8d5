"""`kilngit show RUN`: one run in full."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project, format_option, print_json


@click.command()
@click.argument("run")
@click.option("--task", help="Task of the run (default: search every task).")
@format_option("text", "json")
def show(run: str, task: str | None, fmt: str) -> None:
    """Show RUN (an ID or an unambiguous prefix): input, output, reasoning, source, cost and latency, every
    rater's annotation and every current judge verdict with its explanation."""
    from kilngit.views import show_run

    detail = show_run(current_project(), run, task)
    if fmt == "json":
        print_json(detail.to_dict())
        return
    click.echo("\n".join(_lines(detail)))


def _lines(d) -> list[str]:  # type: ignore[no-untyped-def]
    r = d.run
    src = r.output_source
    out = [f"run {r.id}  task {r.task}  sample {r.sample}"]
    out.append(f"input source: {_source(r.input_source)}")
    if src:
        out.append(f"output source: {_source(src)}")
    if r.usage:
        u = r.usage
        cost = "unknown" if u.cost is None else f"${u.cost:.6f}"
        latency = "unknown" if u.latency_ms is None else f"{u.latency_ms:.0f} ms"
        out.append(
            f"cost {cost}, latency {latency}, tokens {u.input_tokens or '?'} in / {u.output_tokens or '?'} out"
        )
    if d.tags:
        out.append(f"tags: {', '.join(d.tags)}")
    out += ["", "--- input", r.input]
    if r.reasoning:
        out += ["--- reasoning", r.reasoning]
    if r.error:
        out += [f"--- error ({r.error.type})", r.error.message]
    out += ["--- output", r.output if r.output is not None else "(none: input-only run)"]
    if d.consensus:
        out += ["", "consensus: " + ", ".join(f"{k} {v}" for k, v in d.consensus.items())]
    for a in d.annotations:
        parts = ([f"overall {a.overall}"] if a.overall else []) + [
            f"{k} {v}" for k, v in a.requirements.items()
        ]
        parts += [f"{k} {v}" for k, v in a.extra.items()]
        tags = [f"+{t}" for t in a.tags_added] + [f"-{t}" for t in a.tags_removed]
        if tags:
            parts.append("tags " + " ".join(tags))
        out.append(f"  {a.rater}: {'; '.join(parts) or 'no rating'}")
        if a.note:
            out.append(f"    note: {a.note}")
        if a.repaired_output:
            out.append(f"    repaired output: {a.repaired_output}")
    if d.judges:
        out.append("")
    for j in d.judges:
        scores = ", ".join(f"{k} {v:.3g}" for k, v in j.scores.items()) or f"error: {j.error}"
        mark = " (counts)" if j.default else ""
        out.append(f"judge {j.eval}/{j.judge}{mark}: {scores}")
        if j.explanation:
            out.append(f"    {j.explanation}")
    if d.stale_results:
        out.append(f"{d.stale_results} stale judge result(s) from older judge definitions not shown")
    return out


def _source(s) -> str:  # type: ignore[no-untyped-def]
    bits = [s.type] + [
        f"{k} {v}"
        for k, v in (
            ("by", s.created_by),
            ("provider", s.provider),
            ("model", s.model),
            ("config", s.run_config),
            ("prompt", s.prompt),
            ("file", s.file),
        )
        if v
    ]
    return ", ".join(bits)
