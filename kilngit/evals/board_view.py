"""The scoreboard from the local cache's per-run rows (`kilngit.cache.views`), without reading records.

A scoreboard computed from the rows is stored with the rows' generation, which grows only when a row a
scoreboard reads changes (an input, an output, a group, a verdict, eval-set membership, usage, a label
consensus): after an edit that changes none of them (a note, a rating where no score is a label) the next
`eval scores` reads the stored board instead of every eval-set row. Stale-result counts, which come from the
judge-result files, are counted afresh each time. A stored board is used only when rebuilding it gives back
its exact JSON, so the output stays that of the uncached path.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
from collections import defaultdict
from typing import Any, Union, get_args, get_origin, get_type_hints

from kilngit.cache.code import code_digest
from kilngit.cache.views import open_view
from kilngit.errors import KilngitError
from kilngit.evals import scores
from kilngit.project import Project
from kilngit.run_rows import task_defs

#: Modules whose code decides a scoreboard from the rows: another version of any of them recomputes it.
_CODE = (
    "evals/board_view.py",
    "evals/scores.py",
    "evals/winners.py",
    "evals/metrics.py",
    "evals/labels.py",
    "evals/agreement.py",
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
    try:
        with view.reading():  # the rows and their generation as of one moment
            generation = view.generation()
            stale = sum(n for (j, h), n in view.results(eval_slug).items() if hashes.get(j) != h)
            stored = _rebuilt(view.board(eval_slug, judge, _code()))
            if stored is None:
                picked = view.board_rows(eval_slug, judge)
                truth = _truth(view.truth_rows()) if any(s.type == "label" for s in ev.scores) else {}
        if stored is not None:
            stored.stale_results = stale
            return stored
        inputs = {row.input for in_eval, row, _ in picked if in_eval}
        rows = [(row, verdict) for in_eval, row, verdict in picked if in_eval or row.input in inputs]
        board = scores._board(project, task, eval_slug, ev, judge, hashes[judge], rows, inputs, stale, truth)
        view.keep_board(eval_slug, judge, _code(), generation, json.dumps(board.to_dict()))
    finally:
        view.close()
    return board


def _truth(rows: list[tuple[str, int, str | None]]) -> dict[str, str | None]:
    """Input digest -> the human class, as `truth_of` finds it (one label among the runs, none disputed)."""
    labels: dict[str, set[str]] = defaultdict(set)
    disputed: set[str] = set()
    for digest, kind, label in rows:
        if kind == 2:
            disputed.add(digest)
        elif label is not None:
            labels[digest].add(label)
    return {d: next(iter(ls)) for d, ls in labels.items() if len(ls) == 1 and d not in disputed}


@functools.cache
def _code() -> str:
    h = code_digest("boards 1\n", _CODE)
    return h.hexdigest()[:32]


def _rebuilt(text: str | None) -> scores.Scoreboard | None:
    """The stored board as a `Scoreboard`, or None when there is none or it does not rebuild exactly."""
    if text is None:
        return None
    try:
        board = _build(scores.Scoreboard, json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return board if json.dumps(board.to_dict()) == text else None


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
