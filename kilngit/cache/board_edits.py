"""What a refresh of the per-run rows (`kilngit.cache.views`) changed of what scoreboards read, when that is
only verdicts replaced: kept per generation of the rows (table `board_edits` of `.kilngit/cache/views.sqlite`),
so that `eval scores` brings its stored board up to date run by run (`kilngit.evals.board_patch`) instead of
computing it from every eval-set row again (a judge result rewritten at 1M records: 233k rows read)."""

from __future__ import annotations

from typing import Any

#: Edits older than this many generations are dropped, with the boards stored before them.
KEEP = 64


def verdict_edits(old: set[tuple[Any, ...]], new: set[tuple[Any, ...]]) -> list[list[Any]] | None:
    """[eval, judge, run, old scores, old labels, new scores, new labels] of each verdict that differs
    between the tagged rows `old` and `new` (what scoreboards read of them, `views._board_part`), or None
    when anything else differs: a run row, an eval member, a verdict that came or went."""
    gone, came = old - new, new - old
    if any(r[0] != "v" for r in (*gone, *came)):
        return None
    before = {r[2:5]: r[5:7] for r in gone}  # ("v", task, eval, judge, run, scores, labels)
    after = {r[2:5]: r[5:7] for r in came}
    if before.keys() != after.keys():
        return None
    return [[*key, *before[key], *after[key]] for key in sorted(before)]
