"""How well two raters (or many) agree: rank and linear correlation, Cohen's kappa, accuracy, confusion
matrices, and Krippendorff's alpha.

Pure standard library. Every statistic returns None, never NaN and never an exception, when it is
undefined for the data (too few values, a constant vector, no expected disagreement). Inputs that are
wrong rather than degenerate (lengths that differ, NaN, an unknown level) raise ValueError.
The formulas are written out in docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal

AlphaLevel = Literal["nominal", "ordinal", "interval"]


class JsonDataclass:
    """Mixin for the result dataclasses: `to_dict()` gives JSON-ready values (lists, None for undefined)."""

    def to_dict(self) -> dict[str, Any]:
        """This result as plain dicts, lists, numbers, strings and None, ready for `json.dumps`."""
        converted = _jsonable(self)
        assert isinstance(converted, dict)
        return converted


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class Correlation(JsonDataclass):
    """A correlation coefficient in [-1, 1] and the number of pairs it was computed from.

    With n == 2 any two distinct points correlate perfectly (+1 or -1), so a value from fewer than
    3 pairs is defined but says nothing; look at `n` before trusting `value`.
    """

    value: float
    n: int


# ---------------------------------------------------------------- correlation


def pearson(x: Sequence[float], y: Sequence[float]) -> Correlation | None:
    """Pearson's linear correlation r; None when n < 2 or either vector is constant."""
    xs, ys = _paired_floats(x, y)
    if len(xs) < 2 or _is_constant(xs) or _is_constant(ys):
        return None
    mean_x, mean_y = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    dx = [v - mean_x for v in xs]
    dy = [v - mean_y for v in ys]
    covariance = math.fsum(a * b for a, b in zip(dx, dy, strict=True))
    spread = math.sqrt(math.fsum(a * a for a in dx)) * math.sqrt(math.fsum(b * b for b in dy))
    return Correlation(_clamp_unit(covariance / spread), len(xs))


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation | None:
    """Spearman's rho: Pearson's r on the ranks, tied values sharing their average rank.

    None when n < 2 or either vector is constant.
    """
    xs, ys = _paired_floats(x, y)
    return pearson(average_ranks(xs), average_ranks(ys))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> Correlation | None:
    """Kendall's tau-b, which corrects for ties in either vector; None when n < 2 or a vector is constant.

    O(n log n) (Knight's algorithm), so it stays fast for large eval sets.
    """
    xs, ys = _paired_floats(x, y)
    n = len(xs)
    if n < 2:
        return None
    total_pairs = n * (n - 1) // 2
    order = sorted(range(n), key=lambda i: (xs[i], ys[i]))
    ties_x = _tied_pairs([xs[i] for i in order])
    ties_xy = _tied_pairs([(xs[i], ys[i]) for i in order])
    y_in_x_order = [ys[i] for i in order]
    discordant = _count_inversions(y_in_x_order)
    ties_y = _tied_pairs(sorted(ys))
    denominator = (total_pairs - ties_x) * (total_pairs - ties_y)
    if denominator == 0:  # a constant vector
        return None
    concordant_minus_discordant = total_pairs - ties_x - ties_y + ties_xy - 2 * discordant
    return Correlation(_clamp_unit(concordant_minus_discordant / math.sqrt(denominator)), n)


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of `values` in their original order; tied values get the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = shared_rank
        start = end + 1
    return ranks


def _tied_pairs(sorted_values: Sequence[Any]) -> int:
    """Number of pairs with equal values, given the values in sorted order (runs of equal values)."""
    pairs, run = 0, 1
    for previous, current in itertools.pairwise(sorted_values):
        if current == previous:
            run += 1
        else:
            pairs += run * (run - 1) // 2
            run = 1
    return pairs + run * (run - 1) // 2


def _count_inversions(values: list[float]) -> int:
    """Pairs i < j with values[i] > values[j] (strictly), counted by a bottom-up merge sort."""
    items, count, width = list(values), 0, 1
    while width < len(items):
        merged: list[float] = []
        for left_start in range(0, len(items), 2 * width):
            left = items[left_start : left_start + width]
            right = items[left_start + width : left_start + 2 * width]
            i = j = 0
            while i < len(left) and j < len(right):
                if right[j] < left[i]:
                    count += len(left) - i
                    merged.append(right[j])
                    j += 1
                else:
                    merged.append(left[i])
                    i += 1
            merged.extend(left[i:])
            merged.extend(right[j:])
        items, width = merged, width * 2
    return count


def _paired_floats(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float]]:
    if len(x) != len(y):
        raise ValueError(f"the two vectors must have the same length (got {len(x)} and {len(y)})")
    xs, ys = [float(v) for v in x], [float(v) for v in y]
    if not all(math.isfinite(v) for v in xs + ys):
        raise ValueError("values must be finite numbers (found NaN or infinity)")
    return xs, ys


def _is_constant(values: Sequence[float]) -> bool:
    return min(values) == max(values)


def _clamp_unit(value: float) -> float:
    # Rounding can push a perfect correlation a hair past 1.
    return max(-1.0, min(1.0, value))


# ---------------------------------------------------------------- categorical agreement


def accuracy(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """Fraction of positions where the two label sequences are equal; None when empty."""
    _check_same_length(labels_a, labels_b)
    if not labels_a:
        return None
    return sum(a == b for a, b in zip(labels_a, labels_b, strict=True)) / len(labels_a)


def cohen_kappa(labels_a: Sequence[Hashable], labels_b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa: agreement beyond what the two raters' label frequencies give by chance.

    kappa = (p_observed - p_expected) / (1 - p_expected). None when empty or when p_expected == 1
    (both raters always give the same single label, so chance explains all agreement).
    """
    _check_same_length(labels_a, labels_b)
    n = len(labels_a)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(labels_a, labels_b, strict=True)) / n
    counts_a, counts_b = Counter(labels_a), Counter(labels_b)
    expected = math.fsum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


@dataclasses.dataclass(frozen=True)
class ClassStats(JsonDataclass):
    """Precision, recall and F1 for one label; None where the ratio is 0/0."""

    label: Hashable
    support: int  # how many true labels are this label
    predicted: int  # how many predicted labels are this label
    precision: float | None
    recall: float | None
    f1: float | None


@dataclasses.dataclass(frozen=True)
class ConfusionMatrix(JsonDataclass):
    """counts[i][j] = items whose true label is labels[i] and predicted label is labels[j]."""

    labels: tuple[Hashable, ...]
    counts: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassStats, ...]

    def count(self, true_label: Hashable, predicted_label: Hashable) -> int:
        """Items with this true label that were predicted as `predicted_label`."""
        return self.counts[self.labels.index(true_label)][self.labels.index(predicted_label)]


def confusion_matrix(
    labels_true: Sequence[Hashable],
    labels_pred: Sequence[Hashable],
    labels: Sequence[Hashable] | None = None,
) -> ConfusionMatrix:
    """Count (true, predicted) label pairs. `labels` fixes the row/column order (labels that never
    occur still get a row); without it, the labels seen, sorted. A label outside `labels` is an error."""
    _check_same_length(labels_true, labels_pred)
    if labels is None:
        seen = set(labels_true) | set(labels_pred)
        try:
            labels = sorted(seen)  # type: ignore[type-var]
        except TypeError:
            labels = list(dict.fromkeys([*labels_true, *labels_pred]))
    index = {label: i for i, label in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError(f"labels must be distinct: {list(labels)}")
    counts = [[0] * len(labels) for _ in labels]
    for true_label, predicted_label in zip(labels_true, labels_pred, strict=True):
        for label in (true_label, predicted_label):
            if label not in index:
                raise ValueError(f"label {label!r} is not one of {list(labels)}")
        counts[index[true_label]][index[predicted_label]] += 1
    per_class = []
    for i, label in enumerate(labels):
        hits = counts[i][i]
        support = sum(counts[i])
        predicted = sum(row[i] for row in counts)
        precision = hits / predicted if predicted else None
        recall = hits / support if support else None
        # 2TP / (2TP + FP + FN): defined (as 0) even when precision is 0/0 but the label was missed.
        f1 = 2 * hits / (support + predicted) if support + predicted else None
        per_class.append(ClassStats(label, support, predicted, precision, recall, f1))
    return ConfusionMatrix(tuple(labels), tuple(tuple(row) for row in counts), tuple(per_class))


def _check_same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"the two label sequences must have the same length (got {len(a)} and {len(b)})")


# ---------------------------------------------------------------- Krippendorff's alpha

RatingsByItem = Sequence[Sequence[Any]] | Mapping[Hashable, Mapping[Hashable, Any]]


def krippendorff_alpha(ratings_by_item: RatingsByItem, level: AlphaLevel = "nominal") -> float | None:
    """Krippendorff's alpha for any number of raters, with missing values.

    `ratings_by_item` is either one list per item (unit) holding each rater's value, None where a rater
    did not rate the item, or a mapping item -> {rater: value}. Items with fewer than two values cannot
    be compared and are ignored. `level` picks the distance between values: "nominal" (equal or not),
    "ordinal" (by how many values lie between them) or "interval" (squared difference).

    alpha = 1 - observed disagreement / expected disagreement; 1 is perfect agreement, 0 is chance.
    None when fewer than two comparable values exist or every value is the same (no expected
    disagreement).
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"level must be 'nominal', 'ordinal' or 'interval', not {level!r}")
    rows = ratings_by_item.values() if isinstance(ratings_by_item, Mapping) else ratings_by_item
    units = []
    for row in rows:
        present = [v for v in (row.values() if isinstance(row, Mapping) else row) if v is not None]
        if level != "nominal":
            present = [float(v) for v in present]
            if not all(math.isfinite(v) for v in present):
                raise ValueError("values must be finite numbers (use None for a missing rating)")
        if len(present) >= 2:
            units.append(Counter(present))

    # Coincidence matrix: each ordered pair of values within an item, weighted 1/(m_u - 1).
    coincidences: dict[tuple[Any, Any], float] = defaultdict(float)
    for counts in units:
        m_u = sum(counts.values())
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if pairs:
                    coincidences[(c, k)] += pairs / (m_u - 1)
    value_totals: dict[Any, float] = defaultdict(float)
    for (c, _k), weight in coincidences.items():
        value_totals[c] += weight
    n = math.fsum(value_totals.values())
    if n < 2 or len(value_totals) < 2:
        return None

    distance = _alpha_distance(level, value_totals)
    values = list(value_totals)
    observed = math.fsum(w * distance(c, k) for (c, k), w in coincidences.items())
    expected = math.fsum(value_totals[c] * value_totals[k] * distance(c, k) for c in values for k in values)
    return 1.0 - (n - 1) * observed / expected


def _alpha_distance(level: AlphaLevel, value_totals: Mapping[Any, float]) -> Callable[[Any, Any], float]:
    """Squared distance function delta^2(c, k) for the level of measurement."""
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: (c - k) ** 2
    # Ordinal: distance counts the values between c and k, each value weighted by how often it occurs.
    ordered = sorted(value_totals)
    cumulative, running = {}, 0.0
    for value in ordered:
        running += value_totals[value]
        cumulative[value] = running

    def ordinal(c: float, k: float) -> float:
        low, high = min(c, k), max(c, k)
        between = cumulative[high] - cumulative[low] + value_totals[low]  # sum of n_g for low <= g <= high
        return (between - (value_totals[c] + value_totals[k]) / 2) ** 2

    return ordinal
