"""Known-value tests for kilngit.evals.metrics and kilngit.evals.agreement.

Reference values are computed by hand (in the comments), taken from Krippendorff's published worked
example, from closed forms of the t distribution, or from scipy/numpy when they are importable.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from kilngit.evals.metrics import (
    RATING_VALUES,
    AlignmentReport,
    ConsensusResult,
    Correlation,
    MeanCI,
    accuracy,
    average_ranks,
    cohen_kappa,
    confusion_matrix,
    consensus,
    judge_alignment,
    kendall_tau,
    krippendorff_alpha,
    mae,
    mean_ci,
    mse,
    normalize,
    normalized_mae,
    normalized_mse,
    pearson,
    percentile,
    spearman,
    student_t_cdf,
    student_t_quantile,
)

approx = pytest.approx


# ---------------------------------------------------------------- normalization and errors


def test_rating_table_is_the_record_formats_own() -> None:
    from kilngit.records.common import RATING_VALUES as RECORD_RATING_VALUES

    assert RATING_VALUES is RECORD_RATING_VALUES  # one table, in kilngit.ratings
    # Label ratings carry a class; as eval scores they count 1 (right class) or 0.
    assert RATING_VALUES["label"] == (0.0, 1.0)


@pytest.mark.parametrize(
    ("value", "rating_type", "expected"),
    [
        (1.0, "five_star", 0.0), (3.0, "five_star", 0.5), (5.0, "five_star", 1.0), (3.5, "five_star", 0.625),
        (0.0, "pass_fail", 0.0), (1.0, "pass_fail", 1.0),
        (-1.0, "pass_fail_critical", 0.0), (0.0, "pass_fail_critical", 0.5), (1.0, "pass_fail_critical", 1.0),
    ],
)  # fmt: skip
def test_normalize(value: float, rating_type: str, expected: float) -> None:
    assert normalize(value, rating_type) == expected


@pytest.mark.parametrize(
    ("value", "rating_type"), [(0.0, "five_star"), (-1.0, "pass_fail"), (math.nan, "five_star")]
)
def test_normalize_refuses_values_outside_the_range(value: float, rating_type: str) -> None:
    with pytest.raises(ValueError):
        normalize(value, rating_type)


def test_normalize_refuses_unknown_rating_type() -> None:
    with pytest.raises(ValueError, match="unknown rating type"):
        normalize(1.0, "ten_star")


def test_mae_and_mse() -> None:
    # differences 0, -1, 2  -> |d| mean 1, d^2 mean 5/3
    assert mae([1, 2, 5], [1, 3, 3]) == 1.0
    assert mse([1, 2, 5], [1, 3, 3]) == approx(5 / 3)
    assert mae([], []) is None and mse([], []) is None
    # five_star normalized: differences /4 -> MAE 1/4, MSE 5/48
    assert normalized_mae([1, 2, 5], [1, 3, 3], "five_star") == approx(0.25)
    assert normalized_mse([1, 2, 5], [1, 3, 3], "five_star") == approx(5 / 48)
    assert normalized_mae([-1, 1], [1, 1], "pass_fail_critical") == 0.5
    with pytest.raises(ValueError):
        mae([1, 2], [1])


# ---------------------------------------------------------------- correlations


def _value(result: Correlation | None) -> float:
    assert result is not None
    return result.value


def test_pearson_hand_computed() -> None:
    # x - mean = (-1, 0, 1), y - mean = (-7/3, -1/3, 8/3): r = 5 / sqrt(2 * 38/3) = 5 / sqrt(76/3)
    assert _value(pearson([1, 2, 3], [1, 3, 6])) == approx(5 / math.sqrt(76 / 3))


def test_spearman_with_ties_uses_average_ranks() -> None:
    assert average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    # ranks x (1, 2.5, 2.5, 4), y (1, 3, 2, 4): r = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10)
    assert _value(spearman([1, 2, 2, 3], [1, 3, 2, 4])) == approx(3 / math.sqrt(10))


def test_kendall_tau_b_hand_computed() -> None:
    # No ties: 7 concordant, 3 discordant pairs -> (7 - 3) / 10
    assert kendall_tau([1, 2, 3, 4, 5], [3, 1, 2, 5, 4]) == Correlation(0.4, 5)
    # One pair tied in x, 5 concordant: tau-b = 5 / sqrt((6 - 1) * (6 - 0))
    assert _value(kendall_tau([1, 2, 2, 3], [1, 3, 2, 4])) == approx(5 / math.sqrt(30))


def _kendall_tau_b_by_pairs(x: list[float], y: list[float]) -> float:
    concordant_minus_discordant = untied_x = untied_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        sign = (x[i] > x[j]) - (x[i] < x[j])
        sign_y = (y[i] > y[j]) - (y[i] < y[j])
        concordant_minus_discordant += sign * sign_y
        untied_x += sign != 0
        untied_y += sign_y != 0
    return concordant_minus_discordant / math.sqrt(untied_x * untied_y)


def test_kendall_tau_matches_the_pairwise_definition_with_many_ties() -> None:
    rng = random.Random(7)
    for n in (2, 3, 10, 57):
        for _ in range(20):
            x = [float(rng.randint(1, 5)) for _ in range(n)]
            y = [float(rng.randint(1, 3)) for _ in range(n)]
            result = kendall_tau(x, y)
            if len(set(x)) == 1 or len(set(y)) == 1:
                assert result is None
            else:
                assert result is not None and result.value == approx(_kendall_tau_b_by_pairs(x, y), abs=1e-12)


@pytest.mark.parametrize("correlation", [pearson, spearman, kendall_tau])
def test_correlations_perfect_inverse_and_undefined(correlation) -> None:  # type: ignore[no-untyped-def]
    assert _value(correlation([1, 2, 3, 4], [2, 4, 6, 8])) == approx(1.0)
    assert _value(correlation([1, 2, 3, 4], [8, 6, 4, 2])) == approx(-1.0)
    assert correlation([], []) is None
    assert correlation([3], [4]) is None
    assert correlation([2, 2, 2], [1, 2, 3]) is None  # constant vector
    assert correlation([0.1, 0.1, 0.1], [0.3, 0.1, 0.2]) is None  # constant, even with inexact floats
    # n == 2 is defined but always +-1: the result carries n so callers can discount it
    assert _value(correlation([1, 2], [5, 3])) == approx(-1.0)
    assert correlation([1, 2], [5, 3]).n == 2
    with pytest.raises(ValueError):
        correlation([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        correlation([1, math.nan], [1, 2])


def test_correlations_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    for n in (3, 8, 40, 200):
        x = [float(rng.randint(1, 5)) for _ in range(n)]
        y = [v + rng.choice([-1, 0, 0, 1]) for v in x]
        assert _value(kendall_tau(x, y)) == approx(stats.kendalltau(x, y)[0], abs=1e-12)
        assert _value(spearman(x, y)) == approx(stats.spearmanr(x, y)[0], abs=1e-12)
        assert _value(pearson(x, y)) == approx(stats.pearsonr(x, y)[0], abs=1e-12)


# ---------------------------------------------------------------- categorical agreement


def test_cohen_kappa_textbook_example() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15. p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == approx(0.4)
    assert accuracy(a, b) == approx(0.7)


def test_cohen_kappa_edge_cases() -> None:
    assert cohen_kappa(["p", "f", "p"], ["p", "f", "p"]) == 1.0
    assert cohen_kappa(["p", "f"], ["f", "p"]) == -1.0
    assert cohen_kappa(["p", "p"], ["p", "p"]) is None  # expected agreement 1: undefined
    assert cohen_kappa(["p", "p"], ["f", "f"]) == 0.0  # p_o = p_e = 0
    assert cohen_kappa(["p", "f", "p"], ["p", "p", "p"]) == 0.0  # a constant rater is at chance level
    assert cohen_kappa([], []) is None and accuracy([], []) is None


def test_confusion_matrix_with_fixed_labels() -> None:
    matrix = confusion_matrix(
        ["pass", "pass", "fail", "fail"], ["pass", "fail", "fail", "fail"], ["pass", "fail", "critical"]
    )
    assert matrix.labels == ("pass", "fail", "critical")
    assert matrix.counts == ((1, 1, 0), (0, 2, 0), (0, 0, 0))
    assert matrix.count("pass", "fail") == 1
    passed, failed, critical = matrix.per_class
    assert (passed.precision, passed.recall, passed.f1) == (1.0, 0.5, approx(2 / 3))
    assert (failed.precision, failed.recall, failed.support, failed.predicted) == (approx(2 / 3), 1.0, 2, 3)
    assert (critical.precision, critical.recall, critical.f1) == (None, None, None)
    assert json.loads(json.dumps(matrix.to_dict()))["counts"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="not one of"):
        confusion_matrix(["pass"], ["maybe"], ["pass", "fail"])
    assert confusion_matrix(["b", "a"], ["a", "a"]).labels == ("a", "b")


# ---------------------------------------------------------------- Krippendorff's alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, None missing.
_N = None
OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _N, _N, _N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _N, 3],
    "C": [_N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _N],
}
UNITS = [list(values) for values in zip(*OBSERVERS.values(), strict=True)]


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_published_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(UNITS, level) == approx(expected, abs=5e-4)  # type: ignore[arg-type]
    by_item = {unit: {rater: OBSERVERS[rater][unit] for rater in OBSERVERS} for unit in range(12)}
    assert krippendorff_alpha(by_item, level) == approx(expected, abs=5e-4)  # type: ignore[arg-type]


def test_krippendorff_alpha_edge_cases() -> None:
    assert krippendorff_alpha([[1, 1], [2, 2, None], [3, 3]], "interval") == 1.0
    assert krippendorff_alpha([[2, 2], [2, 2]]) is None  # no expected disagreement
    assert krippendorff_alpha([[1, None], [2]]) is None  # no item has two values
    assert krippendorff_alpha([]) is None
    # Single-valued units do not change the result.
    assert krippendorff_alpha([*UNITS, [4, None, None]], "nominal") == krippendorff_alpha(UNITS, "nominal")
    # Two items, total disagreement: o_ab = o_ba = 2, n_a = n_b = 2, n = 4 -> alpha = 1 - (4-1) * 4 / 8
    assert krippendorff_alpha([["a", "b"], ["b", "a"]], "nominal") == approx(-0.5)
    with pytest.raises(ValueError):
        krippendorff_alpha(UNITS, "ratio")  # type: ignore[arg-type]


# ---------------------------------------------------------------- t distribution, CI, percentiles


def _t_upper_tail_even_df(t: float, df: int) -> float:
    """Closed form for even df: P(|T| < t) = sin(theta) * sum_k (2k-1)!!/(2k)!! cos^2k(theta)."""
    sin_theta, cos_squared = t / math.sqrt(df + t * t), df / (df + t * t)
    term = total = 1.0
    for k in range(1, df // 2):
        term *= cos_squared * (2 * k - 1) / (2 * k)
        total += term
    return (1 - sin_theta * total) / 2


@pytest.mark.parametrize("df", [2, 4, 10, 30, 100, 250])
@pytest.mark.parametrize("p", [0.6, 0.9, 0.95, 0.975, 0.995, 0.9995])
def test_t_quantile_against_the_closed_form_for_even_df(df: int, p: float) -> None:
    assert _t_upper_tail_even_df(student_t_quantile(p, df), df) == approx(1 - p, rel=1e-9)


@pytest.mark.parametrize("p", [0.6, 0.975, 0.999, 1e-6])
def test_t_quantile_closed_forms_for_one_and_two_df(p: float) -> None:
    assert student_t_quantile(p, 1) == approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert student_t_quantile(p, 2) == approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)


def test_t_quantile_table_values_symmetry_and_normal_limit() -> None:
    table = {1: 12.706205, 2: 4.302653, 3: 3.182446, 5: 2.570582, 10: 2.228139, 30: 2.042272, 120: 1.979930}
    for df, expected in table.items():
        assert student_t_quantile(0.975, df) == approx(expected, abs=1e-6)
    assert student_t_quantile(0.5, 7) == 0.0
    assert student_t_quantile(0.1, 7) == approx(-student_t_quantile(0.9, 7), rel=1e-14)
    z = 1.959963984540054  # large df: z + (z^3 + z) / (4 df) is accurate to ~1/df^2
    assert student_t_quantile(0.975, 1e6) == approx(z + (z**3 + z) / 4e6, abs=1e-9)
    assert student_t_quantile(0.975, 1e9) == approx(z + (z**3 + z) / 4e9, abs=1e-12)
    assert student_t_cdf(student_t_quantile(0.8, 3.5), 3.5) == approx(0.8, abs=1e-14)
    for bad in ((0.0, 5), (1.0, 5), (0.5, 0)):
        with pytest.raises(ValueError):
            student_t_quantile(*bad)


def test_t_quantile_matches_scipy_for_df_1_to_1000() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, 101), *range(101, 1001, 7), 1000]:
        for p in (0.9, 0.95, 0.975, 0.995, 0.0005):
            assert student_t_quantile(p, df) == approx(stats.t.ppf(p, df), abs=1e-4, rel=1e-8)


def test_mean_ci() -> None:
    # mean 3, stdev sqrt(2.5), half width t(0.975, 4) * sqrt(2.5) / sqrt(5) = 2.776445105 * sqrt(0.5)
    result = mean_ci([1, 2, 3, 4, 5])
    half_width = 2.7764451051977987 * math.sqrt(0.5)
    assert (result.n, result.mean, result.confidence) == (5, 3.0, 0.95)
    assert (result.stdev, result.low, result.high) == approx((math.sqrt(2.5), 3 - half_width, 3 + half_width))
    assert mean_ci([]) == MeanCI(0, None, None, None, None, 0.95)
    assert mean_ci([0.7]) == MeanCI(1, 0.7, None, None, None, 0.95)
    assert mean_ci([2, 2, 2]).low == 2.0  # zero spread: a zero-width interval
    assert mean_ci([1, 2, 3, 4, 5], confidence=0.99).high == approx(3 + 4.604094871 * math.sqrt(0.5))
    with pytest.raises(ValueError):
        mean_ci([1, 2], confidence=1.0)


def test_percentile() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4], 95) == approx(3.85)
    assert percentile([1, 2, 3, 4], 0) == 1.0 and percentile([1, 2, 3, 4], 100) == 4.0
    assert percentile([7], 95) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_percentile_matches_numpy() -> None:
    numpy = pytest.importorskip("numpy")
    rng = random.Random(5)
    for n in (2, 3, 11, 100):
        values = [rng.lognormvariate(0, 1) for _ in range(n)]
        for q in (0, 1, 33.3, 50, 90, 95, 99, 100):
            assert percentile(values, q) == approx(float(numpy.percentile(values, q)), rel=1e-14)


# ---------------------------------------------------------------- consensus


@pytest.mark.parametrize(
    ("values", "rating_type", "expected"),
    [
        ([1.0], "pass_fail", ConsensusResult(1.0, False, 1)),
        ([1.0, 1.0, 0.0], "pass_fail", ConsensusResult(1.0, False, 3)),
        ([1.0, 0.0], "pass_fail", ConsensusResult(None, True, 2)),  # median 0.5 is no value
        ([-1.0, 0.0, 1.0], "pass_fail_critical", ConsensusResult(0.0, False, 3)),
        ([-1.0, 1.0], "pass_fail_critical", ConsensusResult(None, True, 2)),  # median 0: nobody said fail
        ([-1.0, 0.0], "pass_fail_critical", ConsensusResult(None, True, 2)),
        ([4.0, 5.0], "five_star", ConsensusResult(4.5, False, 2)),
        ([2.0, 4.0], "five_star", ConsensusResult(3.0, True, 2)),  # spread of 2 stars
        ([1.0, 5.0, 5.0], "five_star", ConsensusResult(5.0, True, 3)),
        ([3.0], "five_star", ConsensusResult(3.0, False, 1)),
        ([], "five_star", ConsensusResult(None, False, 0)),
    ],
)
def test_consensus(values: list[float], rating_type: str, expected: ConsensusResult) -> None:
    assert consensus(values, rating_type) == expected


def test_consensus_refuses_values_the_type_does_not_allow() -> None:
    with pytest.raises(ValueError):
        consensus([3.5], "five_star")
    with pytest.raises(ValueError):
        consensus([-1.0], "pass_fail")


# ---------------------------------------------------------------- judge alignment


def test_judge_alignment_pass_fail() -> None:
    # human, judge: the judge's 0.5 is a tie and rounds down to fail.
    pairs = [(1.0, 1.0), (1.0, 0.9), (0.0, 0.0), (0.0, 1.0), (1.0, 0.5), (0.0, 0.2)]
    report = judge_alignment(pairs, "pass_fail")
    assert isinstance(report, AlignmentReport) and report.n == 6
    assert report.accuracy == approx(4 / 6)
    # labels human P P F F P F, judge P P F P F F: p_o 4/6, p_e 3/6*3/6 + 3/6*3/6 = 1/2 -> kappa 1/3
    assert report.cohen_kappa == approx(1 / 3)
    assert report.confusion_matrix is not None and report.confusion_matrix.labels == ("pass", "fail")
    assert report.confusion_matrix.counts == ((2, 1), (1, 2))
    assert report.mae == approx((0 + 0.1 + 0 + 1 + 0.5 + 0.2) / 6)
    assert report.krippendorff_alpha_level == "nominal"
    assert report.always_pass.accuracy == 0.5 and report.always_pass.cohen_kappa == 0.0
    assert report.always_fail.mae == 0.5 and report.always_fail.judge_value == 0.0
    assert report.kendall_tau is not None and report.kendall_tau.n == 6
    assert json.loads(json.dumps(report.to_dict()))["confusion_matrix"]["counts"] == [[2, 1], [1, 2]]


def test_a_judge_that_always_passes_looks_no_better_than_the_baseline() -> None:
    report = judge_alignment([(1.0, 1.0), (1.0, 1.0), (0.0, 1.0), (1.0, 1.0)], "pass_fail")
    assert report.accuracy == report.always_pass.accuracy == 0.75
    assert report.cohen_kappa == report.always_pass.cohen_kappa == 0.0
    assert report.pearson is None and report.spearman is None  # a constant judge has no correlation


def test_judge_alignment_pass_fail_critical_and_five_star() -> None:
    critical = judge_alignment([(-1.0, -1.0), (0.0, -0.5), (1.0, 1.0), (0.0, 0.0)], "pass_fail_critical")
    assert critical.confusion_matrix is not None
    assert critical.confusion_matrix.labels == ("pass", "fail", "critical")
    assert critical.confusion_matrix.count("fail", "critical") == 1  # -0.5 ties and rounds to critical
    assert critical.krippendorff_alpha_level == "ordinal"
    assert critical.always_fail.judge_value == 0.0 and critical.always_fail.normalized_mae == approx(0.25)

    stars = judge_alignment([(5.0, 4.6), (3.5, 3.0), (1.0, 2.0), (4.0, 4.0)], "five_star")
    assert stars.accuracy is None and stars.cohen_kappa is None and stars.confusion_matrix is None
    assert stars.mae == approx((0.4 + 0.5 + 1.0 + 0.0) / 4)
    assert stars.normalized_mae == approx((0.4 + 0.5 + 1.0 + 0.0) / 16)
    assert stars.spearman is not None and stars.spearman.value == approx(1.0)
    assert stars.krippendorff_alpha_level == "interval" and stars.krippendorff_alpha is not None
    assert stars.always_pass.judge_value == 5.0 and stars.always_pass.mae == approx((0 + 1.5 + 4 + 1) / 4)
    assert stars.always_fail.accuracy is None


def test_judge_alignment_with_no_pairs_is_all_undefined() -> None:
    report = judge_alignment([], "pass_fail").to_dict()
    assert report["n"] == 0
    assert report["accuracy"] is None and report["cohen_kappa"] is None and report["pearson"] is None
    assert report["always_pass"]["mae"] is None
    json.dumps(report)


def test_judge_alignment_refuses_bad_scores() -> None:
    with pytest.raises(ValueError, match="consensus"):
        judge_alignment([(0.5, 1.0)], "pass_fail")  # a disputed human label must be left out
    with pytest.raises(ValueError):
        judge_alignment([(3.0, 6.0)], "five_star")
