"""The rating scales: which values each rating type allows, their names, the 0..1 normalization, and the
consensus of several raters. The one home of the pass / fail / critical / stars scale.

Pure standard library and low in the layers: records, run state, filters, judges and eval metrics all read
it, so none of them has to import another to learn what "critical" means. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Literal

RatingType = Literal["pass_fail", "pass_fail_critical", "five_star", "label"]
"""label: one class out of a fixed set (declared beside the rating: `labels`); the others are numbers."""

#: The values each rating type allows, lowest first (pass_fail: 1 pass / 0 fail; critical adds -1; five_star 1..5).
#: A label *rating* carries a class name instead of a value; a label *score* counts as 1 (the right class) or 0.
RATING_VALUES: dict[str, tuple[float, ...]] = {
    "pass_fail": (0.0, 1.0),
    "pass_fail_critical": (-1.0, 0.0, 1.0),
    "five_star": (1.0, 2.0, 3.0, 4.0, 5.0),
    "label": (0.0, 1.0),
}

#: The words for the pass/fail values (also the confusion-matrix labels).
PASS_FAIL_LABELS: dict[float, str] = {1.0: "pass", 0.0: "fail", -1.0: "critical"}
#: Word -> value, the inverse of PASS_FAIL_LABELS.
NAMED_VALUES: dict[str, float] = {word: value for value, word in PASS_FAIL_LABELS.items()}


def allowed_values(rating_type: str) -> tuple[float, ...]:
    """The values a rating of this type may take, lowest first."""
    try:
        return RATING_VALUES[rating_type]
    except KeyError:
        raise ValueError(
            f"unknown rating type {rating_type!r} (expected one of {list(RATING_VALUES)})"
        ) from None


def named_values(rating_type: str) -> dict[str, float]:
    """The words a rating of this type may be given as: pass and fail, plus critical for pass_fail_critical."""
    allowed = allowed_values(rating_type)
    return (
        {w: v for w, v in NAMED_VALUES.items() if v in allowed} if rating_type.startswith("pass_fail") else {}
    )


def value_label(value: float, rating_type: str) -> str:
    """A value as people say it: pass, fail, critical, or 4* for stars (other numbers as they are)."""
    if rating_type == "five_star":
        return f"{value:g}*"
    return PASS_FAIL_LABELS.get(value, f"{value:g}")


def normalize(value: float, rating_type: str) -> float:
    """Map a score onto 0..1: five_star (r-1)/4, pass_fail r, pass_fail_critical (r+1)/2.

    Scores between the allowed values (a judge's 3.5 stars) are fine; scores outside the type's range
    are an error.
    """
    allowed = allowed_values(rating_type)
    lowest, highest = allowed[0], allowed[-1]
    if not (math.isfinite(value) and lowest <= value <= highest):
        raise ValueError(f"{value!r} is outside the {rating_type} range {lowest:g}..{highest:g}")
    return (value - lowest) / (highest - lowest)


@dataclasses.dataclass(frozen=True)
class ConsensusResult:
    """The panel's agreed value (None when there is none), whether raters disagreed, and how many rated."""

    value: float | None
    disputed: bool
    n_raters: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def consensus(values: Sequence[float], rating_type: str) -> ConsensusResult:
    """Combine several raters' ratings of one item into one value, by the rule in docs/metrics.md.

    The consensus is the median. For pass_fail and pass_fail_critical a median that is not an allowed
    value (one pass, one fail -> 0.5), or that no rater gave (one pass, one critical -> 0 = fail), means
    there is no consensus: value None, disputed True. For five_star the median is kept (the mean of the
    two middle values for an even count) and the item is disputed when the ratings span 2 stars or more.
    One rater: that value, not disputed. No raters: value None, not disputed.
    """
    allowed = allowed_values(rating_type)
    for value in values:
        if value not in allowed:
            raise ValueError(f"{value!r} is not a {rating_type} rating (allowed: {list(allowed)})")
    if not values:
        return ConsensusResult(None, False, 0)
    import statistics  # here: it imports fractions and decimal, ~5 ms of every command's start-up

    median = float(statistics.median(values))
    if rating_type == "five_star":
        return ConsensusResult(median, max(values) - min(values) >= 2, len(values))
    if median not in allowed or median not in values:
        return ConsensusResult(None, True, len(values))
    return ConsensusResult(median, False, len(values))
