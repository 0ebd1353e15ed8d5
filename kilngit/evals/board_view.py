"""The scoreboard from the local cache's per-run rows (`kilngit.cache.views`), without reading records.

A scoreboard computed from the rows is stored with the rows' generation, which grows only when a row a
scoreboard reads changes (an input, an output, a group, a verdict, eval-set membership, usage, a label
consensus): after an edit that changes none of them (a note, a rating where no score is a label) the next
`eval scores` reads the stored board instead of every eval-set row. Stale-result counts, which come from the
judge-result files, are counted afresh each time. A stored board is used only when rebuilding it gives back
its exact JSON, so the output stays that of the uncached path. After edits that only replaced verdicts (a
judge result rewritten), added or removed those of eval-set runs (a run judged, a result deleted) or changed
inputs' human classes (a label edited), a board stored for an older
generation is brought up to date run by run through its groups' tallies (`kilngit.evals.board_patch`) and
stored again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from kilngit.cache.board_edits import truth_of
from kilngit.cache.code import code_digest
from kilngit.cache.views import open_view
from kilngit.errors import KilngitError
from kilngit.evals import board_patch, scores
from kilngit.evals.tally import Tally
from kilngit.project import Project
from kilngit.records import Eval, Task
from kilngit.run_rows import task_defs

if TYPE_CHECKING:
    from kilngit.cache.view_queries import View

Tallies = dict[str, tuple[str | None, Tally]]  # group -> (the config hash of its kept runs or None, tally)

#: Modules whose code decides a scoreboard from the rows: another version of any of them recomputes it.
_CODE = (
    "evals/board_view.py",
    "evals/scores.py",
    "evals/winners.py",
    "evals/metrics.py",
    "evals/labels.py",
    "evals/agreement.py",
    "evals/tally.py",
    "evals/board_patch.py",
    "cache/board_edits.py",
)


def board_from_view(project: Project, task: str, eval_slug: str, judge: str) -> scores.Scoreboard | None:
    """The scoreboard from the per-run rows (None: no usable view; read the records)."""
    try:
        defs = task_defs(project, task)
    except KilngitError:  # a filter error: the full path raises it where it always did
        return None
    view = open_view(project, task, defs)
    if view is None:
        return None
    ev, hashes = defs.evals[eval_slug], defs.hashes[eval_slug]
    labels = any(s.type == "label" for s in ev.scores)
    try:
        with view.reading():  # the rows and their generation as of one moment
            generation = view.generation()
            stale = sum(n for (j, h), n in view.results(eval_slug).items() if hashes.get(j) != h)
            found = view.board(eval_slug, judge, _code())
            stored = _rebuilt(None if found is None else found[1])
            board, tallies = stored if stored is not None else (None, {})
            if board is not None and found is not None and found[0] != generation:
                edits = view.board_edits(found[0], generation)
                board = (
                    None if edits is None else _patched(view, ev, project.task(task), board, tallies, edits)
                )
            if board is None:
                picked = view.board_rows(eval_slug, judge)
                truth = _truth(view.truth_rows()) if labels else {}
        if board is None:
            inputs = {row.input for in_eval, row, _ in picked if in_eval}
            rows = [(row, verdict) for in_eval, row, verdict in picked if in_eval or row.input in inputs]
            tallies = {}
            args = (project, task, eval_slug, ev, judge, hashes[judge], rows, inputs, stale, truth, tallies)
            board = scores._board(*args)
        board.stale_results = stale
        if found is None or found[0] != generation or stored is None:
            view.keep_board(eval_slug, judge, _code(), generation, _text(board, tallies))
    finally:
        view.close()
    return board


def _patched(
    view: View, ev: Eval, task: Task, board: scores.Scoreboard, tallies: Tallies, edits: list[list[Any]]
) -> scores.Scoreboard | None:
    def truth(digest: str) -> str | None:
        return _truth(view.truth_rows(digest)).get(digest)

    return board_patch.patched(view, ev, task, board, tallies, edits, truth)


def _text(board: scores.Scoreboard, tallies: Tallies) -> str:
    """What is stored of a board: its JSON and its groups' tallies."""
    kept = {group: [hash_, tally.to_json()] for group, (hash_, tally) in tallies.items()}
    return json.dumps({"board": board.to_dict(), "tallies": kept})


def _truth(rows: list[tuple[str, int, str | None]]) -> dict[str, str | None]:
    """Input digest -> the human class, as `truth_of` finds it (one label among the runs, none disputed)."""
    by_input: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for digest, kind, label in rows:
        by_input[digest].append((kind, label))
    return {d: right for d, got in by_input.items() if (right := truth_of(got)) is not None}


@functools.cache
def _code() -> str:
    h = code_digest("boards 2\n", _CODE)
    return h.hexdigest()[:32]


def _rebuilt(text: str | None) -> tuple[scores.Scoreboard, Tallies] | None:
    """The stored board as a `Scoreboard` with its groups' tallies, or None when there is none or it does
    not rebuild exactly."""
    if text is None:
        return None
    try:
        stored = json.loads(text)
        board = _build(scores.Scoreboard, stored["board"])
        tallies = {group: (kept, Tally.from_json(t)) for group, (kept, t) in stored["tallies"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return (board, tallies) if json.dumps(board.to_dict()) == json.dumps(stored["board"]) else None


def _build(tp: Any, value: Any) -> Any:
    """`value` (from `to_dict` through JSON) as the type `tp` (dataclasses, tuples, lists, dicts, X | None)."""
    origin, args = get_origin(tp), get_args(tp)
    if value is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp)
        return tp(**{f.name: _build(hints[f.name], value[f.name]) for f in dataclasses.fields(tp)})
    if origin in (Union, types.UnionType):
        return _build(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        return tuple(_build(args[0], v) for v in value)
    if origin is list:
        return [_build(args[0], v) for v in value]
    if origin is dict:
        return {k: _build(args[1], v) for k, v in value.items()}
    return value
