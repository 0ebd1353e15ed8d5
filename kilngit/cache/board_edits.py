"""What a refresh of the per-run rows (`kilngit.cache.views`) changed of what scoreboards read, when that is
only verdicts (replaced, come or gone) or the humans' class of an input: kept per generation of the rows
(table `board_edits` of `.kilngit/cache/views.sqlite`), so that `eval scores` brings its stored board up
to date run by run (`kilngit.evals.board_patch`) instead of computing it from every eval-set row again (a
judge result rewritten at 1M records: 233k rows read).

Edits: ["v", eval, judge, run, old scores, old labels, new scores, new labels] (the verdicts as stored
JSON, both None for a verdict that came or went) and ["t", input digest, old class, new class].
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
    member's place in the eval set."""
    gone, came = old - new, new - old
    if any(r[0] not in "rvm" for r in (*gone, *came)) or not _members_alike(gone, came):
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
    edits: list[list[Any]] = [
        ["v", *key, *before_v.get(key, _NONE), *after_v.get(key, _NONE)]
        for key in sorted(before_v.keys() | after_v.keys())
    ]
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


_NONE = (None, None)  # no verdict: (scores, labels) of a verdict that came or went
#: (in the eval set, in the golden set, has output) of a tagged `members` row
#: ("m", task, eval, run, in_eval, in_golden, has_output, done, judges).
_PLACE = slice(4, 7)


def _members_alike(gone: set[tuple[Any, ...]], came: set[tuple[Any, ...]]) -> bool:
    """Whether the eval members before (`gone`) and after (`came`) differ only in their judges (which the
    `verdicts` rows say in full): every run keeps its place in the eval and golden sets, and a member that
    came or went is in neither (a member only for its verdicts)."""
    before = {r[2:4]: r[_PLACE] for r in gone if r[0] == "m"}
    after = {r[2:4]: r[_PLACE] for r in came if r[0] == "m"}
    for key in before.keys() | after.keys():
        was, now = before.get(key), after.get(key)
        if was is None or now is None:
            if (was or now)[:2] != (0, 0):  # type: ignore[index]
                return False
        elif was != now:
            return False
    return True


def truth_of(rows: list[tuple[int, str | None]]) -> str | None:
    """The human class of one input from its runs' (truth kind, label), as `evals.truth.truth_of` finds it:
    one label among the runs, none disputed."""
    labels = {label for kind, label in rows if kind != 2 and label is not None}
    return next(iter(labels)) if len(labels) == 1 and all(kind != 2 for kind, _ in rows) else None
