"""What a refresh of the per-run rows (`kilngit.cache.views`) changed of what scoreboards read, when that is
only verdicts replaced or the humans' class of an input: kept per generation of the rows (table
`board_edits` of `.kilngit/cache/views.sqlite`), so that `eval scores` brings its stored board up to date
run by run (`kilngit.evals.board_patch`) instead of computing it from every eval-set row again (a judge
result rewritten at 1M records: 233k rows read).

Edits: ["v", eval, judge, run, old scores, old labels, new scores, new labels] (the verdicts as stored
JSON) and ["t", input digest, old class, new class].
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

#: Edits older than this many generations are dropped, with the boards stored before them.
KEEP = 64
#: (truth kind, label) in a tagged `runs` row as scoreboards read it (`views._board_part`).
_TRUTH = slice(6, 8)


def board_edits(
    db: sqlite3.Connection, task: str, old: set[tuple[Any, ...]], new: set[tuple[Any, ...]]
) -> list[list[Any]] | None:
    """The edits that take what scoreboards read of the tagged rows `old` to `new` (the refresh has
    stored `new`), or None when anything else differs: a run's input, output, group or usage, an eval
    member, a verdict that came or went."""
    gone, came = old - new, new - old
    if any(r[0] not in "rv" for r in (*gone, *came)):
        return None
    runs_before = {r[2]: r for r in gone if r[0] == "r"}
    runs_after = {r[2]: r for r in came if r[0] == "r"}
    if runs_before.keys() != runs_after.keys():
        return None
    relabeled: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)  # input -> run -> old (truth, label)
    for run, before in runs_before.items():
        after = runs_after[run]
        if before[: _TRUTH.start] + before[_TRUTH.stop :] != after[: _TRUTH.start] + after[_TRUTH.stop :]:
            return None
        relabeled[before[3]][run] = before[_TRUTH]
    before_v = {r[2:5]: r[5:7] for r in gone if r[0] == "v"}  # ("v", task, eval, judge, run, scores, labels)
    after_v = {r[2:5]: r[5:7] for r in came if r[0] == "v"}
    if before_v.keys() != after_v.keys():
        return None
    edits: list[list[Any]] = [["v", *key, *before_v[key], *after_v[key]] for key in sorted(before_v)]
    for digest, old_rows in sorted(relabeled.items()):
        rows = db.execute(  # by the index on (task, input): see `view_queries._BY_INPUT`
            "SELECT run, truth, label FROM runs INDEXED BY runs_input WHERE task = ? AND input = ? AND truth",
            (task, digest),
        ).fetchall()
        now = truth_of([(truth, label) for _, truth, label in rows])
        stored = {run: (truth, label) for run, truth, label in rows}
        then = truth_of([v for v in {**stored, **old_rows}.values() if v[0]])
        if now != then:
            edits.append(["t", digest, then, now])
    return edits


def truth_of(rows: list[tuple[int, str | None]]) -> str | None:
    """The human class of one input from its runs' (truth kind, label), as `evals.truth.truth_of` finds it:
    one label among the runs, none disputed."""
    labels = {label for kind, label in rows if kind != 2 and label is not None}
    return next(iter(labels)) if len(labels) == 1 and all(kind != 2 for kind, _ in rows) else None
