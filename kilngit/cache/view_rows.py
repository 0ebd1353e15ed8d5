"""The `runs`, `members` and `verdicts` rows of `.kilngit/cache/views.sqlite` (`kilngit.cache.views`) made
from one run's `kilngit.run_rows.RunRow`: with `run_rows` and `view_files`, the code that decides what a
stored row holds (`run_rows._CODE`); the refresh around it only decides which rows are recomputed."""

from __future__ import annotations

import json
from typing import Any

from kilngit.run_rows import RunRow, TaskDefs


def table_rows(
    task: str, rid: str, row: RunRow, defs: TaskDefs
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(the `runs` row, the `members` rows, the `verdicts` rows) of the run `rid` (its path's ID)."""
    flags = (row.has_output, row.input_only, row.failed, row.rated, row.disputed)
    run: tuple[Any, ...] = (task, rid, row.input, *flags, *row.truth, row.group, row.config_hash)
    run += (row.usage is not None, *(row.usage or (None,) * 4), *(row.source or (None, None)))
    members, verdicts = [], []
    for slug, ev in defs.evals.items():
        in_eval, in_golden = row.evals[slug]
        judged = row.verdicts.get(slug, {})
        if in_eval or in_golden or judged:
            done = bool(ev.default_judge) and ev.default_judge in judged
            names = "".join(f"|{j}|" for j in judged)
            members.append((task, slug, rid, in_eval, in_golden, row.has_output, done, names))
        for judge, (scores, labels) in judged.items():
            verdicts.append((task, slug, judge, rid, _json(scores), _json(labels)))
    return run, members, verdicts


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
