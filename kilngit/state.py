"""The effective state of runs, computed from the run files and everyone's annotations.

Nothing here is stored: a run's current tags and its consensus human rating are derived every time, so there
is no second place two people would both edit.

Rules (documented in docs/format.md):
* tags = (tags given at creation | tags any rater added) - tags any rater removed (a removal wins);
* the consensus rating of a score is the median of the raters' values (see `kilngit.ratings.consensus`);
  raters who disagree on a pass/fail leave the run *disputed*, with no consensus value;
* the consensus of a label rating is the class a strict majority of raters chose; without one it is disputed;
* the repaired output is the one rater's repair; differing repairs from several raters are a dispute.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from kilngit.ratings import consensus
from kilngit.records import Annotation, Rating, TaskRun
from kilngit.records.sharing import FrozenList


@dataclass(frozen=True)
class Consensus:
    """The raters' combined view of one score of one run."""

    type: str
    value: float | None
    """Consensus value, None when disputed with no majority."""
    disputed: bool
    ratings: dict[str, float]
    """rater -> value (numeric types)."""
    label: str | None = None
    """For label ratings: the class a strict majority of raters chose (None when disputed)."""
    labels: dict[str, str] = field(default_factory=dict)
    """For label ratings: rater -> class."""


@dataclass(slots=True)  # no __dict__: one per run, a million at once
class RunState:
    """A run together with what people said about it. The states `run_states` makes share one read-only
    empty `annotations` list among unannotated runs: assign a new list rather than append to it."""

    run: TaskRun
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def tags(self) -> frozenset[str]:
        added = set(self.run.tags)
        removed: set[str] = set()
        for a in self.annotations:
            added.update(a.tags_added)
            removed.update(a.tags_removed)
        return frozenset(added - removed)

    @property
    def rating(self) -> Consensus | None:
        """Consensus of the overall ratings, or None when nobody rated the run."""
        return _combine({a.rater: a.rating for a in self.annotations if a.rating})

    def requirement(self, name: str) -> Consensus | None:
        """Consensus of the ratings of one requirement."""
        return _combine({a.rater: a.requirements[name] for a in self.annotations if name in a.requirements})

    def human_rating(self, name: str) -> Consensus | None:
        """ "overall" or a requirement name."""
        return self.rating if name == "overall" else self.requirement(name)

    @property
    def rated(self) -> bool:
        return any(a.rating or a.requirements for a in self.annotations)

    @property
    def disputed(self) -> bool:
        """True when raters disagree on the overall rating or on any requirement."""
        names = {n for a in self.annotations for n in a.requirements}
        checks = [self.rating, *(self.requirement(n) for n in names)]
        return any(c is not None and c.disputed for c in checks)

    @property
    def repaired_output(self) -> str | None:
        repairs = {a.repaired_output for a in self.annotations if a.repaired_output}
        return repairs.pop() if len(repairs) == 1 else None

    @property
    def reference(self) -> str | None:
        """The raters' reference answer (None when nobody gave one, or when the raters' references differ)."""
        refs = {a.reference for a in self.annotations if a.reference}
        return refs.pop() if len(refs) == 1 else None

    def annotation_by(self, rater: str) -> Annotation | None:
        return next((a for a in self.annotations if a.rater == rater), None)


def _combine(ratings: dict[str, Rating | None]) -> Consensus | None:
    given = {r: v for r, v in ratings.items() if v is not None}
    if not given:
        return None
    by_type: dict[str, dict[str, Rating]] = defaultdict(dict)
    for rater, rating in given.items():
        by_type[rating.type][rater] = rating
    # Raters using different rating types for one score cannot be combined: that is a dispute.
    rating_type, chosen = max(by_type.items(), key=lambda kv: len(kv[1]))
    if rating_type == "label":
        labels = {r: v.label or "" for r, v in sorted(chosen.items())}
        top, count = Counter(labels.values()).most_common(1)[0]
        majority = count * 2 > len(labels) and len(by_type) == 1
        return Consensus(rating_type, None, not majority, {}, top if majority else None, labels)
    values = {r: v.value for r, v in chosen.items() if v.value is not None}
    result = consensus(list(values.values()), rating_type)
    return Consensus(
        rating_type,
        result.value,
        result.disputed or len(by_type) > 1,
        {r: v for r, v in sorted(values.items())},
    )


def run_states(runs: dict[str, TaskRun], annotations: list[Annotation]) -> dict[str, RunState]:
    """Join runs with their annotations, in run ID order (annotations of unknown runs are left out;
    `validate` reports them)."""
    states = {rid: RunState(runs[rid], _NONE) for rid in sorted(runs)}  # IDs only sorted: no copy of `runs`
    for a in sorted(annotations, key=lambda a: a.rater):
        state = states.get(a.run)
        if state is not None:
            state.annotations = [*state.annotations, a]  # a list of one or two, no room to grow
    return states


#: The annotations of every unannotated run of `run_states`: one read-only empty list, not one each.
_NONE: list[Annotation] = FrozenList()
