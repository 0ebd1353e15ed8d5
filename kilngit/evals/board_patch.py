"""A stored scoreboard brought up to date after verdict edits, run by run (`kilngit.evals.board_view`).

When the only rows that changed since a board was stored are verdicts replaced (a judge result rewritten or
added beside another of the same run and judge), verdicts that came or went for runs of the eval set (which
count unjudged without one) or the humans' class of inputs (a label rating edited:
`kilngit.cache.board_edits`), nothing but the verdict-decided part of the groups changed: which runs count,
their inputs, groups, outputs and usage are those the board was computed from. Each edited run's old
verdict is taken out of its group's `Tally` and the new one put in (for a class, every scoreboard run on the
input, with the old class and the new), the touched groups' scores are recomputed from their tallies, and
the board is ranked again, with the same code as the full computation (`kilngit.evals.scores`). A verdict
that came or went for a run outside the eval set changes which runs the board reads (its group's missing
inputs, usage, stale runs): the board is computed afresh, unless the run is on no input of the eval set
(then it is read neither before nor after).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
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
    truth: Callable[[str], str | None],
) -> scores.Scoreboard | None:
    """`board` (with its groups' `tallies`, both changed in place) after `edits` (`kilngit.cache.board_edits`,
    oldest first); `truth(digest)`: the human class of an input now. None when an edit does not fit the
    board (then compute it afresh)."""
    labels = any(s.type == "label" for s in ev.scores)
    groups = {g.group: g for g in board.groups}
    verdicts = [e[3:] for e in edits if e[0] == "v" and (e[1], e[2]) == (board.eval, board.judge)]
    relabeled = [e[1:] for e in edits if e[0] == "t"] if labels else []
    touched: set[str] = set()

    def count(run: tuple[Any, ...], verdict: Any, right: str | None, sign: int) -> bool:
        """Count the eval member `run` (`View.board_run`) in or out of its group's tally; False: it does
        not fit the board."""
        in_eval, digest, has_output, input_only, group, config_hash = run
        if input_only or not (in_eval or view.eval_input(board.eval, digest)):
            return True  # not a scoreboard row
        if group not in tallies or group not in groups:
            return False
        kept, tally = tallies[group]
        if kept is None or config_hash == kept:  # else made before its run config's last edit: only stale
            tally.add(bool(has_output), verdict, right, sign)
            touched.add(group)
        return True

    found: dict[str, tuple[Any, ...]] = {}
    for run, *_ in verdicts:
        if (member := view.board_run(board.eval, run)) is None:
            return None
        found[run] = member
    if {member[1] for member in found.values()} & {digest for digest, *_ in relabeled}:
        return None  # a verdict and its input's class both changed: which came first matters
    for run, *texts in verdicts:
        right = truth(found[run][1]) if labels else None
        old, new = _verdict(texts[:2]), _verdict(texts[2:])
        in_eval, digest, _, input_only, *_ = found[run]
        if (old is None or new is None) and not in_eval:
            # Which runs the board reads changes: only those of the eval set count without a verdict.
            if input_only or not view.eval_input(board.eval, digest):
                continue  # not a scoreboard row before or after
            return None  # a group's other figures (missing inputs, usage) change too: computed afresh
        if not (count(found[run], old, right, -1) and count(found[run], new, right, 1)):
            return None
    for digest, then, now in relabeled:
        for run, verdict in view.input_runs(board.eval, board.judge, digest):
            if not (count(run, verdict, then, -1) and count(run, verdict, now, 1)):
                return None
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


def _verdict(texts: list[str | None]) -> Any:
    """A verdict (scores, labels) from its stored JSON texts, None for none (it came or went)."""
    return None if texts[0] is None else (json.loads(texts[0]), json.loads(texts[1]))  # type: ignore[arg-type]
