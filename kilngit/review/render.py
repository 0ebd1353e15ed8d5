"""A `Review` as markdown (a pull-request comment), plain text, or JSON.

The markdown starts with `MARKER` so the GitHub workflow can find and update its one comment, opens with a
summary table, shows eval effects in full, and collapses long per-run lists in `<details>`. It always fits in
`GITHUB_COMMENT_LIMIT` characters: per-run lists are cut shorter and shorter until it does, saying so.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from kilngit.review.changes import SetChange
from kilngit.review.diff import Review
from kilngit.review.revisions import RevisionRange

MARKER = "<!-- kilngit-review -->"
GITHUB_COMMENT_LIMIT = 65_536
_OPEN_ROWS = 10
"""Sections with at most this many rows are shown open, longer ones collapsed."""
_ROW_CAPS = (None, 2000, 500, 200, 50, 20, 5, 0)


@dataclass
class Section:
    """A titled table. `rows` of evals are always shown; per-run lists may be cut (`cuttable`)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    cuttable: bool = True
    notes: list[str] = field(default_factory=list)


def render(result: Review, fmt: str, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The review in `fmt` (markdown, text or json); markdown is kept within `limit` characters."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    parts = sections(result)
    if fmt == "text":
        return _text(result, parts)
    for cap in _ROW_CAPS:
        text = _markdown(result, parts, cap)
        if len(text) <= limit:
            return text
    note = f"\n\n**Cut at {limit:,} characters (GitHub's comment limit).** Run `kilngit review {result.range.spec}`."
    return text[: limit - len(note)] + note


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    d = after - before
    return "0" if abs(d) < 0.0005 else f"{d:+.3f}"


def _n(before: int, after: int) -> str:
    return str(after) if before == after else f"{before} → {after}"


def summary_rows(result: Review) -> list[list[str]]:
    """The at-a-glance table: what kind of change, and how much."""
    c = result.changes
    raters = Counter(r.rater for r in c.ratings)
    by_rater = ", ".join(f"{name}: {n}" for name, n in sorted(raters.items()))
    rows = [["ratings changed", f"{len(c.ratings)} ({by_rater})" if c.ratings else "0"]]
    golden = _grouped_sets([s for s in c.sets if s.which == "golden_set"])
    if golden:
        rows.append(
            [
                "golden set",
                "; ".join(
                    f"{', '.join(s.eval for s in same)}: +{len(s.added)} −{len(s.removed)} "
                    f"({s.size_before} → {s.size_after})"
                    for s, same in golden
                ),
            ]
        )
    rows.append(["runs with tag changes", str(len(c.tags))])
    added = [r for r in c.records if r.status == "added"]
    for kind, label in (("task_run", "new runs"), ("judge_result", "new judge results")):
        counts = [r for r in added if r.kind == kind]
        if counts:
            rows.append(
                [
                    label,
                    f"{sum(r.count for r in counts)} ("
                    + ", ".join(f"{r.origin}: {r.count}" for r in counts)
                    + ")",
                ]
            )
    rewritten = [r for r in c.records if r.status != "added" and r.kind in ("task_run", "judge_result")]
    if rewritten:
        rows.append(
            [
                "⚠️ machine records changed or deleted",
                f"{sum(r.count for r in rewritten)} (runs and judge results are append-only)",
            ]
        )
    if c.moved:
        rows.append(
            ["records moved to the current folder layout", f"{c.moved} (kilngit migrate; bytes unchanged)"]
        )
    if c.definitions:
        kinds = Counter((d.kind, d.status) for d in c.definitions)
        rows.append(
            [
                "definitions changed",
                ", ".join(f"{n} {kind} {status}" for (kind, status), n in sorted(kinds.items())),
            ]
        )
    stale = sum(j.stale for j in result.judges)
    if stale:
        rows.append(["judge results made stale by judge edits", f"{stale} (re-run: kilngit run eval)"])
    changed_scores = [s for s in result.scores if s.changed]
    rows.append(["eval scores changed", str(len(changed_scores))])
    rows.append(["judge agreement changed", str(sum(1 for a in result.agreement if a.changed))])
    if result.audits:
        rows.append(
            ["suspect golden labels", ", ".join(f"{a.eval}: {a.suspects}/{a.golden}" for a in result.audits)]
        )
    if result.problems:
        rows.append(["⚠️ problems", str(len(result.problems))])
    return rows


def sections(result: Review) -> list[Section]:
    """The detailed sections, in the order a reviewer reads them."""
    c = result.changes
    out = []
    changed = [s for s in result.scores if s.changed]
    if changed:
        same = len(result.scores) - len(changed)
        out.append(
            Section(
                "Eval scores (default judge, mean normalized score 0..1)",
                ["eval", "judge", "run config", "score", "before", "after", "Δ", "runs"],
                [
                    [
                        f"{s.task}/{s.eval}",
                        s.judge,
                        s.group,
                        s.score,
                        _fmt(s.before),
                        _fmt(s.after),
                        _delta(s.before, s.after),
                        _n(s.n_before, s.n_after),
                    ]
                    for s in changed
                ],
                cuttable=False,
                notes=[f"{same} unchanged score(s) not shown."] if same else [],
            )
        )
    agreement = [a for a in result.agreement if a.changed]
    if agreement:
        out.append(
            Section(
                "Judge agreement with humans (golden set)",
                ["eval", "judge", "score", "metric", "before", "after", "Δ", "items"],
                [
                    [
                        f"{a.task}/{a.eval}",
                        a.judge,
                        a.score,
                        a.metric,
                        _fmt(a.before),
                        _fmt(a.after),
                        _delta(a.before, a.after),
                        _n(a.n_before, a.n_after),
                    ]
                    for a in agreement
                ],
                cuttable=False,
            )
        )
    if result.suspects:
        counts = ", ".join(f"{a.task}/{a.eval}: {a.suspects} of {a.golden}" for a in result.audits)
        out.append(
            Section(
                "Suspect golden labels (label audit at HEAD)",
                ["eval", "run", "P(wrong)", "consensus", "likely", "", "why"],
                [
                    [
                        f"{s.task}/{s.eval}",
                        f"`{s.run}`",
                        f"{s.p_wrong:.2f}",
                        s.consensus or "split",
                        s.likely,
                        "rated in this range" if s.changed else "",
                        s.why,
                    ]
                    for s in result.suspects
                ],
                notes=[f"Suspects per eval: {counts}. Details: `kilngit audit EVAL`."],
            )
        )
    if c.ratings:
        out.append(
            Section(
                "Ratings",
                ["run", "input", "rater", "", "change"],
                [
                    [
                        f"`{r.run}`",
                        r.input,
                        r.rater,
                        r.status,
                        "; ".join(f"{f.field}: {f.before} → {f.after}" for f in r.fields),
                    ]
                    for r in c.ratings
                ],
            )
        )
    for which in ("eval_set", "golden_set"):
        for s, group in _grouped_sets([s for s in c.sets if s.which == which]):
            rows = [[f"`{i}`", s.inputs[i], "added"] for i in s.added]
            rows += [[f"`{i}`", s.inputs[i], "removed"] for i in s.removed]
            evals = ", ".join(f"{x.task}/{x.eval}" for x in group)
            out.append(
                Section(
                    f"{which.replace('_', ' ')} of {evals}: +{len(s.added)} −{len(s.removed)}",
                    ["run", "input", ""],
                    rows,
                )
            )
    for j in result.judges:
        out.append(
            Section(
                f"Judge `{j.path}` {j.status}: {j.stale} result(s) made stale",
                [],
                [],
                cuttable=False,
                notes=[f"```diff\n{j.diff.rstrip()}\n```"] if j.diff else [],
            )
        )
    if c.tags:
        out.append(
            Section(
                "Tags (effective, all raters)",
                ["run", "input", "before", "after"],
                [
                    [f"`{t.run}`", t.input, ", ".join(t.before) or "-", ", ".join(t.after) or "-"]
                    for t in c.tags
                ],
            )
        )
    if c.records:
        out.append(
            Section(
                "Machine records",
                ["task", "kind", "from", "", "count", "failed"],
                [[r.task, r.kind, r.origin, r.status, str(r.count), str(r.failed)] for r in c.records],
            )
        )
    if c.definitions:
        out.append(
            Section(
                "Definitions",
                ["path", "kind", ""],
                [[f"`{d.path}`", d.kind, d.status] for d in c.definitions],
            )
        )
    if result.problems:
        out.append(Section("Problems", ["problem"], [[p] for p in result.problems]))
    return out


def _grouped_sets(sets: list[SetChange]) -> list[tuple[SetChange, list[SetChange]]]:
    """Set changes with the same runs added and removed, grouped (evals often share one golden set)."""
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[SetChange]] = {}
    for s in sets:
        groups.setdefault((tuple(s.added), tuple(s.removed)), []).append(s)
    return [(same[0], same) for same in groups.values()]


def _cell(text: str) -> str:
    """Table-safe text; `@` as an entity so a note or an email never @-mentions anyone on GitHub."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace("@", "&#64;").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _markdown(result: Review, parts: list[Section], cap: int | None) -> str:
    rng = result.range
    lines = [
        MARKER,
        f"## kilngit review `{rng.spec}`",
        "",
        f"{_base_text(rng)} → `{rng.head[:10]}` ({rng.head_name}): {result.changed_files} file(s) changed.",
        "",
    ]
    lines += _md_table(["change", "amount"], summary_rows(result))
    cut = 0
    for part in parts:
        rows = part.rows
        if part.cuttable and cap is not None and len(rows) > cap:
            cut += len(rows) - cap
            rows = rows[:cap]
        lines += ["", f"### {part.title}", ""]
        if part.cuttable and len(part.rows) > _OPEN_ROWS:
            lines += [f"<details><summary>{len(part.rows)} rows</summary>", ""]
            lines += _md_table(part.headers, rows) if rows else []
            if len(rows) < len(part.rows):
                lines += ["", f"… {len(part.rows) - len(rows)} more not shown."]
            lines += ["", "</details>"]
        elif part.headers:
            lines += _md_table(part.headers, rows)
        lines += [f"\n{note}" for note in part.notes]
    if cut:
        lines += [
            "",
            f"**{cut} row(s) left out to stay within GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment "
            f"limit.** Run `kilngit review {rng.spec}` for everything.",
        ]
    if result.changed_files == 0:
        lines += ["", "No kilngit records changed."]
    return "\n".join(lines) + "\n"


def _base_text(rng: RevisionRange) -> str:
    if ".." in rng.spec and "..." not in rng.spec:
        return f"`{rng.base[:10]}` ({rng.base_name})"
    return f"`{rng.base[:10]}` (merge base of {rng.base_name} and {rng.head_name})"


def _text(result: Review, parts: list[Section]) -> str:
    rng = result.range
    lines = [
        f"kilngit review {rng.spec}: {rng.base[:10]} -> {rng.head[:10]}, {result.changed_files} file(s) "
        f"changed ({result.seconds:.1f}s)"
    ]
    lines += [f"  {label}: {value}" for label, value in summary_rows(result)]
    for part in parts:
        lines += ["", part.title + ":"]
        if not part.headers:
            lines += [
                f"  {line}" for note in part.notes for line in note.splitlines() if not line.startswith("```")
            ]
            continue
        table = [[c.replace("`", "") for c in row] for row in [part.headers, *part.rows]]
        widths = [max(len(c) for c in col) for col in zip(*table, strict=True)]
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
        ]
        lines += [f"  {note}" for note in part.notes]
    return "\n".join(lines) + "\n"
