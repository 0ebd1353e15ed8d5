"""The winners and the Pareto front of a scoreboard (`kilngit.evals.scores`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scores imports this module
    from kilngit.evals.scores import GroupScores, Scoreboard


def mark_winners(board: Scoreboard) -> None:
    """Mark the best group of each score and overall, and the groups on the Pareto front (quality, cost,
    latency)."""
    groups = board.groups
    names = {name for g in groups for name in g.scores}
    for name in names:
        values = [v for g in groups if name in g.scores and (v := g.scores[name].normalized) is not None]
        best = max(values, default=None)
        for g in groups:
            stat = g.scores.get(name)
            if best is not None and stat is not None and stat.normalized == best and len(groups) > 1:
                g.scores[name] = dataclasses.replace(stat, winner=True)
    qualities = [g.quality for g in groups if g.quality is not None]
    # When some groups have a known cost, those whose cost is unknown are left off the front (an unknown
    # cost is not zero); when none has one, the front is drawn on quality and latency alone.
    priced = any(g.mean_cost is not None for g in groups)
    for g in groups:
        g.winner = len(groups) > 1 and bool(qualities) and g.quality == max(qualities)
        g.pareto = (
            g.quality is not None
            and (g.mean_cost is not None or not priced)
            and not any(_dominates(other, g) for other in groups if other is not g)
        )


def _dominates(a: GroupScores, b: GroupScores) -> bool:
    """True when `a` is at least as good as `b` on quality, cost and latency, and better on one (dimensions
    unknown for either are left out; a group without a quality is never compared)."""
    if a.quality is None or b.quality is None:
        return False
    if a.mean_cost is None and b.mean_cost is not None:  # an unknown cost is not cheaper than a known one
        return False
    pairs: list[tuple[float | None, float | None, int]] = [
        (a.quality, b.quality, 1),
        (a.mean_cost, b.mean_cost, -1),
        (a.p50_latency_ms, b.p50_latency_ms, -1),
    ]
    known = [(x * sign, y * sign) for x, y, sign in pairs if x is not None and y is not None]
    return bool(known) and all(x >= y for x, y in known) and any(x > y for x, y in known)
