"""A stored scoreboard brought up to date after verdict edits, run by run (`kilngit.evals.board_view`).

When the only rows that changed since a board was stored are verdicts replaced (a judge result rewritten or
added beside another of the same run and judge: `kilngit.cache.board_edits`), nothing but the verdict-decided
part of the groups changed: which runs count, their inputs, groups, outputs, usage and the humans' classes
are those the board was computed from. Each edited run's old verdict is taken out of its group's `Tally`
and the new one put in, the touched groups' scores are recomputed from their tallies, and the board is ranked
again, with the same code as the full computation (`kilngit.evals.scores`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kilngit.cache.view_queries import View
from kilngit.evals import scores
from kilngit.evals.tally import Tally
from kilngit.records import Eval, Task


def patched(
    view: View,
    ev: Eval,
    task: Task,
    board: scores.Scoreboard,
    tallies: dict[str, tuple[str | None, Tally]],
    edits: list[list[Any]],
    truth: Any,
) -> scores.Scoreboard | None:
    """`board` (with its groups' `tallies`, both changed in place) after `edits` ([eval, judge, run, old
    scores, old labels, new scores, new labels], the verdicts as JSON, oldest first); `truth(digest)`: the
    human class of an input. None when an edit does not fit the board (then compute it afresh)."""
    labels = any(s.type == "label" for s in ev.scores)
    groups = {g.group: g for g in board.groups}
    touched: set[str] = set()
    for eval_slug, judge, run, *verdicts in edits:
        if (eval_slug, judge) != (board.eval, board.judge):
            continue
        found = view.board_run(eval_slug, run)
        if found is None:
            return None
        in_eval, digest, has_output, input_only, group, config_hash = found
        if input_only or not (in_eval or view.eval_input(eval_slug, digest)):
            continue  # not a scoreboard row
        if group not in tallies or group not in groups:
            return None
        kept, tally = tallies[group]
        if kept is not None and config_hash != kept:
            continue  # made before its run config's last edit: counted only as stale
        right = truth(digest) if labels else None
        old, new = [json.loads(v) for v in verdicts[:2]], [json.loads(v) for v in verdicts[2:]]
        tally.add(bool(has_output), (old[0], old[1]), right, -1)
        tally.add(bool(has_output), (new[0], new[1]), right, 1)
        touched.add(group)
    for group in touched:
        tally = tallies[group][1]
        if not tally.valid():
            return None
        g = groups[group]
        g.scores, g.quality = scores.scored(tally, ev.scores, task)
        g.n, g.unjudged, g.judge_errors, g.failed_runs = tally.n, tally.unjudged, tally.errors, tally.failed
    for g in board.groups:  # ranked afresh: no winner kept from before
        g.scores = {name: dataclasses.replace(st, winner=False) for name, st in g.scores.items()}
    scores.rank(board)
    return board
