"""Statistics for eval scores and for checking an LLM judge against human raters.

Error metrics, confidence intervals,
percentiles, and `judge_alignment`, which puts everything together in one JSON-ready report. The
agreement statistics themselves (correlations, kappa, confusion matrix, Krippendorff's alpha) live in
`kilngit.evals.agreement`, the rating scale and consensus in `kilngit.ratings`; both are re-exported here.

Pure standard library. Undefined statistics are None, never NaN. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence

from kilngit.evals.agreement import (
    AlphaLevel,
    ClassStats,
    ConfusionMatrix,
    Correlation,
    JsonDataclass,
    accuracy,
    average_ranks,
    cohen_kappa,
    confusion_matrix,
    kendall_tau,
    krippendorff_alpha,
    pearson,
    spearman,
)
from kilngit.ratings import (
    PASS_FAIL_LABELS,
    RATING_VALUES,
    ConsensusResult,
    RatingType,
    allowed_values,
    consensus,
    normalize,
)

__all__ = [
    "PASS_FAIL_LABELS", "RATING_VALUES", "AlignmentReport", "BaselineScores", "ClassStats", "ConfusionMatrix", "ConsensusResult",
    "Correlation", "MeanCI", "RatingType", "accuracy", "allowed_values", "average_ranks", "cohen_kappa",
    "confusion_matrix", "consensus", "judge_alignment", "kendall_tau", "krippendorff_alpha", "mae",
    "mean_ci", "mse", "normalize", "normalized_mae", "normalized_mse", "pearson", "percentile", "spearman",
    "student_t_cdf", "student_t_quantile",
]  # fmt: skip


def mae(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Mean absolute error between paired scores; None when there are no pairs."""
    differences = _differences(a, b)
    return math.fsum(abs(d) for d in differences) / len(differences) if differences else None


def mse(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Mean squared error between paired scores; None when there are no pairs."""
    differences = _differences(a, b)
    return math.fsum(d * d for d in differences) / len(differences) if differences else None


def normalized_mae(a: Sequence[float], b: Sequence[float], rating_type: str) -> float | None:
    """MAE after `normalize`, so it lies in 0..1 whatever the rating type."""
    return mae([normalize(v, rating_type) for v in a], [normalize(v, rating_type) for v in b])


def normalized_mse(a: Sequence[float], b: Sequence[float], rating_type: str) -> float | None:
    """MSE after `normalize`, so it lies in 0..1 whatever the rating type."""
    return mse([normalize(v, rating_type) for v in a], [normalize(v, rating_type) for v in b])


def _differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    if len(a) != len(b):
        raise ValueError(f"the two vectors must have the same length (got {len(a)} and {len(b)})")
    differences = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    if not all(math.isfinite(d) for d in differences):
        raise ValueError("values must be finite numbers (found NaN or infinity)")
    return differences


# ---------------------------------------------------------------- score summaries


@dataclasses.dataclass(frozen=True)
class MeanCI(JsonDataclass):
    """Mean with a Student's t confidence interval; stdev is the sample standard deviation (n - 1)."""

    n: int
    mean: float | None  # None when n == 0
    stdev: float | None  # None when n < 2
    low: float | None  # None when n < 2
    high: float | None
    confidence: float


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean of `values` with a two-sided `confidence` interval, mean +- t * stdev / sqrt(n)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), not {confidence!r}")
    numbers = _finite_floats(values)
    n = len(numbers)
    if n == 0:
        return MeanCI(0, None, None, None, None, confidence)
    mean = math.fsum(numbers) / n
    if n == 1:
        return MeanCI(1, mean, None, None, None, confidence)
    stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in numbers) / (n - 1))
    half_width = _t_upper_quantile((1.0 - confidence) / 2, n - 1) * stdev / math.sqrt(n)
    return MeanCI(n, mean, stdev, mean - half_width, mean + half_width, confidence)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (q in 0..100) with linear interpolation, like numpy's default; None if empty."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be between 0 and 100, not {q!r}")
    ordered = sorted(_finite_floats(values))
    if not ordered:
        return None
    position = (len(ordered) - 1) * (q / 100)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    low, high = ordered[below], ordered[above]
    # Interpolate from the nearer end, as numpy does, so results match it to the last bit.
    return low + (high - low) * fraction if fraction < 0.5 else high - (high - low) * (1 - fraction)


def _finite_floats(values: Sequence[float]) -> list[float]:
    numbers = [float(v) for v in values]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError("values must be finite numbers (found NaN or infinity)")
    return numbers


# ---------------------------------------------------------------- Student's t distribution


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (df > 0, need not be an integer)."""
    _check_df(df)
    if math.isnan(t):
        raise ValueError("t must be a number, not NaN")
    upper_tail = _t_upper_tail(abs(t), df)
    return 1.0 - upper_tail if t > 0 else upper_tail


def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (scipy's `t.ppf`), for 0 < p < 1 and df > 0."""
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be between 0 and 1 (exclusive), not {p!r}")
    if p == 0.5:
        return 0.0
    return _t_upper_quantile(1.0 - p, df) if p > 0.5 else -_t_upper_quantile(p, df)


def _check_df(df: float) -> None:
    if not (df > 0 and math.isfinite(df)):
        raise ValueError(f"degrees of freedom must be a positive number, not {df!r}")


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: half the regularized incomplete beta I_x(df/2, 1/2) at x = df / (df + t^2)."""
    if t > 1e100:  # t * t would overflow; x = df / t^2 to double precision, so work with its log
        log_x = math.log(df) - 2 * math.log(t)
        return 0.5 * _regularized_beta(df / 2, 0.5, math.exp(log_x), 1.0, log_x)
    t_squared = t * t
    return 0.5 * _regularized_beta(df / 2, 0.5, df / (df + t_squared), t_squared / (df + t_squared))


def _t_density(t: float, df: float) -> float:
    log_norm = _log_gamma_ratio(df / 2, 0.5) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))


def _t_upper_quantile(tail: float, df: float) -> float:
    """The t > 0 with P(T > t) = tail, for 0 < tail < 1/2: Newton's method kept inside a shrinking bracket.

    Works on the upper tail rather than the CDF so that p close to 1 keeps its precision.
    """
    z = -statistics.NormalDist().inv_cdf(tail)
    if df > 1e7:
        # Cornish-Fisher expansion around the normal quantile; the terms left out are below 1e-21 here,
        # while the incomplete beta loses digits to rounding at such df.
        return (
            z
            + (z**3 + z) / (4 * df)
            + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
        )
    guess = z + (z**3 + z) / (4 * df)  # first Cornish-Fisher term; only a starting point
    low, high = 0.0, max(guess, 1.0)
    while _t_upper_tail(high, df) > tail:
        low, high = high, high * 16
        if math.isinf(high):
            raise ValueError(f"the t quantile for tail {tail!r} and df {df!r} is beyond floating point range")
    t = min(max(guess, low), high)
    for _ in range(200):
        excess = _t_upper_tail(t, df) - tail  # decreasing in t
        if excess == 0:
            return t
        if excess > 0:
            low = t
        else:
            high = t
        density = _t_density(t, df)
        step = excess / density if density > 0 else math.inf
        candidate = t + step
        if not low < candidate < high:
            candidate = (low + high) / 2
        if abs(candidate - t) <= 4 * math.ulp(t) or high - low <= 4 * math.ulp(high):
            return candidate
        t = candidate
    return t


def _regularized_beta(a: float, b: float, x: float, one_minus_x: float, log_x: float | None = None) -> float:
    """I_x(a, b), given both x and 1 - x so neither loses precision to cancellation (and log x when x
    may underflow)."""
    if log_x is None:
        if x <= 0.0:
            return 0.0
        log_x = math.log(x) if x < 0.5 else math.log1p(-one_minus_x)
    if one_minus_x <= 0.0:
        return 1.0
    log_one_minus_x = math.log(one_minus_x) if one_minus_x < 0.5 else math.log1p(-x)
    large, small = max(a, b), min(a, b)
    log_front = _log_gamma_ratio(large, small) - math.lgamma(small) + a * log_x + b * log_one_minus_x
    # The continued fraction converges fast only for x below (a + 1) / (a + b + 2); use symmetry above it.
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, one_minus_x) / b


def _log_gamma_ratio(x: float, s: float) -> float:
    """log(Gamma(x + s) / Gamma(x)). For huge x, lgamma(x + s) - lgamma(x) cancels away most digits,
    so use the asymptotic series s log x + s(s-1)/(2x) + O(1/x^3) (its 1/x^2 term is zero for s = 1/2)."""
    if x > 1e5 and s <= 1:
        c1 = s * (s - 1) / 2
        c2 = s * (s - 1) * (s - 2) * (3 * s - 1) / 24
        return s * math.log(x) + c1 / x + (c2 - c1 * c1 / 2) / (x * x)
    return math.lgamma(x + s) - math.lgamma(x)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function, by the modified Lentz method."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return result


# ---------------------------------------------------------------- judge alignment


@dataclasses.dataclass(frozen=True)
class BaselineScores(JsonDataclass):
    """How a judge that always gives `judge_value` would score against the humans."""

    judge_value: float
    accuracy: float | None  # pass/fail types only
    cohen_kappa: float | None  # pass/fail types only; 0 (or None) by construction
    mae: float | None
    normalized_mae: float | None


@dataclasses.dataclass(frozen=True)
class AlignmentReport(JsonDataclass):
    """How well a judge agrees with human ratings of the same items; None wherever undefined."""

    rating_type: str
    n: int
    kendall_tau: Correlation | None
    spearman: Correlation | None
    pearson: Correlation | None
    mae: float | None
    mse: float | None
    normalized_mae: float | None
    normalized_mse: float | None
    krippendorff_alpha: float | None
    krippendorff_alpha_level: AlphaLevel
    accuracy: float | None  # pass/fail types only, on labels (judge scores rounded to allowed values)
    cohen_kappa: float | None  # pass/fail types only
    confusion_matrix: ConfusionMatrix | None  # pass/fail types only; rows human, columns judge
    always_pass: BaselineScores  # a judge that always gives the top value (pass, 5 stars)
    always_fail: BaselineScores  # a judge that always gives fail (0), or 1 star


def judge_alignment(pairs: Sequence[tuple[float, float]], rating_type: str) -> AlignmentReport:
    """Compare (human, judge) score pairs and report every statistic that applies to the rating type.

    Judge scores may fall between allowed values (a weighted 3.6 stars); correlations and errors use
    them as they are. For pass_fail types, human scores must be allowed values (drop items whose
    `consensus` is None first) and the categorical statistics use judge scores rounded to the nearest
    allowed value, a tie going to the lower (stricter) one. The two constant-judge baselines show what
    a useless judge would score.
    """
    allowed = allowed_values(rating_type)
    humans = [float(human) for human, _ in pairs]
    judges = [float(judge) for _, judge in pairs]
    for value in humans + judges:
        normalize(value, rating_type)  # range check
    is_pass_fail = rating_type != "five_star"
    if is_pass_fail:
        for value in humans:
            if value not in allowed:
                raise ValueError(
                    f"human score {value!r} is not a {rating_type} value; leave out items without consensus"
                )
    human_labels = [PASS_FAIL_LABELS[v] for v in humans] if is_pass_fail else []
    judge_rounded = [_nearest_allowed(v, allowed) for v in judges]

    alpha_levels: dict[str, AlphaLevel] = {"pass_fail": "nominal", "pass_fail_critical": "ordinal"}
    level = alpha_levels.get(rating_type, "interval")
    alpha_judge = judge_rounded if is_pass_fail else judges
    alpha = krippendorff_alpha([[h, j] for h, j in zip(humans, alpha_judge, strict=True)], level)

    def baseline(constant: float) -> BaselineScores:
        constant_judge = [constant] * len(humans)
        return BaselineScores(
            judge_value=constant,
            accuracy=accuracy(human_labels, [PASS_FAIL_LABELS[constant]] * len(humans))
            if is_pass_fail
            else None,
            cohen_kappa=cohen_kappa(human_labels, [PASS_FAIL_LABELS[constant]] * len(humans))
            if is_pass_fail
            else None,
            mae=mae(humans, constant_judge),
            normalized_mae=normalized_mae(humans, constant_judge, rating_type),
        )

    judge_labels = [PASS_FAIL_LABELS[v] for v in judge_rounded] if is_pass_fail else []
    label_order = [PASS_FAIL_LABELS[v] for v in reversed(allowed)] if is_pass_fail else []
    return AlignmentReport(
        rating_type=rating_type,
        n=len(humans),
        kendall_tau=kendall_tau(humans, judges),
        spearman=spearman(humans, judges),
        pearson=pearson(humans, judges),
        mae=mae(humans, judges),
        mse=mse(humans, judges),
        normalized_mae=normalized_mae(humans, judges, rating_type),
        normalized_mse=normalized_mse(humans, judges, rating_type),
        krippendorff_alpha=alpha,
        krippendorff_alpha_level=level,
        accuracy=accuracy(human_labels, judge_labels) if is_pass_fail else None,
        cohen_kappa=cohen_kappa(human_labels, judge_labels) if is_pass_fail else None,
        confusion_matrix=confusion_matrix(human_labels, judge_labels, label_order) if is_pass_fail else None,
        always_pass=baseline(allowed[-1]),
        always_fail=baseline(0.0 if is_pass_fail else allowed[0]),
    )


def _nearest_allowed(value: float, allowed: Sequence[float]) -> float:
    return min(allowed, key=lambda candidate: (abs(candidate - value), candidate))
