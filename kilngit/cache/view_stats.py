"""status's counts (`View.numbers`, table `stats` of `.kilngit/cache/views.sqlite`) carried over a refresh:
the counts stored for the rows before it, plus the rows the refresh added, minus those it replaced or removed.

Every count is a sum over rows (runs, eval members, files), so the new counts are exact without a query over
every row of the task (a `status` after a counted edit at 1M records summed 700k run rows and 1M file rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

#: status's run counts: name -> the columns of a tagged `runs` row ("r", task, run, input, has_output,
#: input_only, failed, rated, disputed, ...) that must all be true for a run to count.
_RUNS = {
    "runs": (),
    "input_only": (5,),
    "failed": (6,),
    "rated": (7, 4),
    "with_output": (4,),
    "disputed": (8,),
}


def carried(
    numbers: dict[str, Any],
    old_files: Mapping[tuple[Any, ...], int],
    new_files: Iterable[tuple[Any, ...]],
    old_rows: set[tuple[Any, ...]],
    new_rows: set[tuple[Any, ...]],
) -> dict[str, Any] | None:
    """`numbers` (as `View.numbers` stores them) after the refresh replaced `old_files` (counted columns of
    the `files` rows: kind, run, rater, eval, judge, jhash, valid, problems, odd) by `new_files`, and the
    tagged rows `old_rows` by `new_rows` (`cache.views._stored_rows`); None when they do not add up (then
    the counts are summed afresh)."""
    evals = numbers["evals"]
    counts = Counter(numbers["counts"])
    raters = Counter(numbers["annotations_by_rater"])
    problems = numbers["problems"]
    results = {e: Counter({(j, h): n for j, h, n in numbers["results"][e]}) for e in evals}
    members = {e: Counter(numbers["members"][e]) for e in evals}
    for sign, files in ((-1, old_files.items()), (1, Counter(new_files).items())):
        for (kind, _, rater, eval_, judge, jhash, valid, n_problems, _), k in files:
            problems += sign * k * n_problems
            if kind == "annotation" and valid == 1:
                raters[rater] += sign * k
            elif kind == "judge_result" and valid == 1 and eval_ in results:
                results[eval_][(judge, jhash)] += sign * k
    for sign, rows in ((-1, old_rows), (1, new_rows)):
        for row in rows:
            if row[0] == "r":
                for name, columns in _RUNS.items():
                    counts[name] += sign * all(row[c] for c in columns)
            elif row[0] == "m" and row[2] in members:
                in_eval, in_golden, has_output, done = row[4:8]
                got = members[row[2]]
                got["eval_set"] += sign * bool(in_eval)
                got["golden_set"] += sign * bool(in_golden)
                got["missing"] += sign * bool(in_eval and has_output and not done)
    every = [problems, *counts.values(), *raters.values()]
    every += [n for c in [*results.values(), *members.values()] for n in c.values()]
    if any(n < 0 for n in every) or None in raters:
        return None
    return {
        "evals": evals,
        "counts": {name: counts[name] for name in numbers["counts"]},
        "annotations_by_rater": dict(sorted((r, n) for r, n in raters.items() if n)),
        "problems": problems,
        "results": {e: [[j, h, n] for (j, h), n in sorted(results[e].items()) if n] for e in evals},
        "members": {e: {name: members[e][name] for name in numbers["members"][e]} for e in evals},
    }
