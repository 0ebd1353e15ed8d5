"""The part of one scoreboard group (`kilngit.evals.scores.GroupScores`) that its runs' verdicts decide: how
many runs are scored, unjudged, errors or failed, and each score's values and label pairs as multisets.

A multiset gives the same statistics as the list it counts (`mean_ci` sums with `math.fsum`, percentiles and
label statistics are taken of the sorted values), so a tally can be kept with the stored scoreboard and
changed run by run: after a verdict edit the cache takes the run's old verdict out and puts the new one in
(`kilngit.evals.board_patch`), instead of adding up every run of the eval set again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from kilngit.run_rows import Verdict


@dataclass
class Tally:
    """One group's verdict-decided counts and multisets (see the module's docstring)."""

    n: int = 0
    """Runs with a current, non-error verdict."""
    unjudged: int = 0
    errors: int = 0
    failed: int = 0
    values: defaultdict[str, Counter[float]] = field(default_factory=lambda: defaultdict(Counter))
    pairs: defaultdict[str, Counter[tuple[str, str]]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, has_output: bool, verdict: Verdict, right: str | None, sign: int = 1) -> None:
        """Count one run (`sign` -1: take it out): its verdict (scores, labels) or None, and `right`, the
        human class of its input (label scores count only where there is one)."""
        if not has_output:
            self.failed += sign
            return
        run_scores, run_labels = verdict if verdict else ({}, {})
        if verdict is None:
            self.unjudged += sign
        elif not run_scores and not run_labels:
            self.errors += sign
        else:
            self.n += sign
            for name, value in run_scores.items():
                self.values[name][value] += sign
            if right is not None:
                for name, label in run_labels.items():
                    self.pairs[name][(right, label)] += sign
                    self.values[name][1.0 if label == right else 0.0] += sign

    def listed(self, name: str) -> list[float]:
        """The values of score `name`, sorted."""
        return sorted(v for v, k in self.values.get(name, Counter()).items() for _ in range(k))

    def listed_pairs(self, name: str) -> list[tuple[str, str]]:
        """The (human, judged) classes of label score `name`, sorted."""
        return sorted(p for p, k in self.pairs.get(name, Counter()).items() for _ in range(k))

    def valid(self) -> bool:
        """No count below zero (a tally that took out a run it never counted is not to be used)."""
        counts = [self.n, self.unjudged, self.errors, self.failed]
        counts += [k for c in self.values.values() for k in c.values()]
        counts += [k for p in self.pairs.values() for k in p.values()]
        return min(counts) >= 0

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": [self.n, self.unjudged, self.errors, self.failed],
            "values": {s: [[v, k] for v, k in c.items() if k] for s, c in self.values.items()},
            "pairs": {s: [[t, p, k] for (t, p), k in c.items() if k] for s, c in self.pairs.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        tally = cls(*data["counts"])
        for name, values in data["values"].items():
            tally.values[name] = Counter({v: k for v, k in values})
        for name, pairs in data["pairs"].items():
            tally.pairs[name] = Counter({(t, p): k for t, p, k in pairs})
        return tally
