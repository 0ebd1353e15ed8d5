"""Judge calibration: how well each judge of an eval agrees with the human consensus on the golden set, and how
well the humans agree with each other.

For each judge and score, the pairs are (human consensus, judge score) over golden-set runs that have both;
`kilngit.evals.metrics.judge_alignment` computes every statistic (docs/metrics.md). The human rating a score
is compared with is `score.human_rating`, else the task requirement of the same name, else the overall
rating. Items without a consensus (raters split on pass/fail) are left out and counted. A pass_fail score
compared with a pass_fail_critical rating reads "critical" as "fail". A label score is compared class by class
(`kilngit.evals.labels`: confusion matrix, accuracy, macro-F1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kilngit.evals.items import eval_items
from kilngit.evals.labels import LabelStats, human_rating_name, label_stats, score_classes
from kilngit.evals.metrics import (
    AlignmentReport,
    JsonDataclass,
    allowed_values,
    cohen_kappa,
    judge_alignment,
    krippendorff_alpha,
)
from kilngit.evals.results import EvalResults, eval_results
from kilngit.project import Project
from kilngit.records import EvalScore, Task
from kilngit.state import RunState

CLIP = 300


@dataclass(frozen=True)
class Disagreement(JsonDataclass):
    """A golden item where a judge and the human consensus differ."""

    run: str
    input: str
    output: str
    human: float | str
    judge: float | str
    """Numbers on the rating's scale, or classes for label scores."""
    why: str | None
    """The judge's explanation or reasoning, clipped."""


@dataclass
class ScoreAlignment(JsonDataclass):
    score: str
    human_rating: str
    rating_type: str
    n: int
    no_consensus: int
    """Golden items left out because the raters have no consensus."""
    not_judged: int
    """Golden items with a human rating but no current score from this judge."""
    report: AlignmentReport | None
    disagreements: list[Disagreement] = field(default_factory=list)
    problem: str | None = None
    labels: LabelStats | None = None
    """Label scores: the judge's classes against the human consensus classes."""


@dataclass
class JudgeAlignment(JsonDataclass):
    judge: str
    judge_id: str
    """The judge's definition hash (the id its current results carry)."""
    type: str
    default: bool
    scores: list[ScoreAlignment]


@dataclass(frozen=True)
class RaterDisagreement(JsonDataclass):
    run: str
    input: str
    ratings: dict[str, float | str]
    consensus: float | str | None


@dataclass
class RaterAgreement(JsonDataclass):
    """Inter-annotator agreement on one human rating over the golden set."""

    human_rating: str
    rating_type: str
    raters: list[str]
    items: int
    """Golden items rated by at least two raters."""
    statistic: str | None
    """cohen_kappa (two raters) or krippendorff_alpha (more); None with a single rater."""
    value: float | None
    disagreements: list[RaterDisagreement] = field(default_factory=list)


@dataclass
class AlignmentTable(JsonDataclass):
    task: str
    eval: str
    golden: int
    """Runs in the golden set."""
    judges: list[JudgeAlignment]
    raters: list[RaterAgreement]
    stale_results: int


def eval_alignment(
    project: Project, task: str | None, eval_slug: str, results: EvalResults | None = None
) -> AlignmentTable:
    """Every judge of an eval against the human consensus on its golden set, and the raters' agreement."""
    task = project.task_slug(task)
    results = results or eval_results(project, task, eval_slug)
    ev, definition = results.eval, project.task(task)
    golden = eval_items(project, task, ev).golden
    judges = []
    for name, judge in results.judges.items():
        scores = [s for s in ev.scores if not judge.score or s.name == judge.score]
        judges.append(
            JudgeAlignment(
                name,
                results.hashes[name],
                judge.type,
                name == ev.default_judge,
                [
                    _label_alignment(s, definition, golden, results, name)
                    if s.type == "label"
                    else _score_alignment(s, human_rating_name(s, definition), golden, results, name)
                    for s in scores
                ],
            )
        )
    ratings = list(dict.fromkeys(human_rating_name(s, definition) for s in ev.scores))
    raters = [_rater_agreement(name, golden) for name in ratings]
    return AlignmentTable(
        task, eval_slug, len(golden), judges, [r for r in raters if r is not None], results.stale_total()
    )


def _score_alignment(
    score: EvalScore, rating: str, golden: list[RunState], results: EvalResults, judge: str
) -> ScoreAlignment:
    pairs: list[tuple[float, float]] = []
    shown: list[tuple[RunState, float, float]] = []
    no_consensus = not_judged = 0
    problem = None
    for state in golden:
        human = state.human_rating(rating)
        if human is None:
            continue
        if human.value is None:
            no_consensus += 1
            continue
        value = _human_on_scale(human.value, human.type, score.type)
        if value is None:
            problem = f"human rating {rating!r} is {human.type}, the score is {score.type}: not comparable"
            continue
        verdict = results.verdict(judge, state.id)
        judged = verdict.scores().get(score.name) if verdict else None
        if judged is None:
            not_judged += 1
            continue
        pairs.append((value, judged))
        shown.append((state, value, judged))
    report = judge_alignment(pairs, score.type) if pairs else None
    disagreements = [
        _disagreement(state, human, judged, results, judge)
        for state, human, judged in shown
        if _differs(human, judged, score.type)
    ]
    return ScoreAlignment(
        score.name, rating, score.type, len(pairs), no_consensus, not_judged, report, disagreements, problem
    )


def _label_alignment(
    score: EvalScore, task: Task, golden: list[RunState], results: EvalResults, judge: str
) -> ScoreAlignment:
    """A label score: the judge's class against the raters' consensus class, per golden run."""
    rating = human_rating_name(score, task)
    pairs: list[tuple[str, str]] = []
    disagreements = []
    no_consensus = not_judged = 0
    for state in golden:
        human = state.human_rating(rating)
        if human is None or human.type != "label":
            continue
        if human.label is None:
            no_consensus += 1
            continue
        verdict = results.verdict(judge, state.id)
        judged = verdict.labels().get(score.name) if verdict else None
        if judged is None:
            not_judged += 1
            continue
        pairs.append((human.label, judged))
        if judged != human.label:
            disagreements.append(_disagreement(state, human.label, judged, results, judge))
    stats = label_stats(pairs, score_classes(score, task))
    return ScoreAlignment(
        score.name, rating, score.type, len(pairs), no_consensus, not_judged, None, disagreements, None, stats
    )


def _human_on_scale(value: float, human_type: str, score_type: str) -> float | None:
    if human_type == score_type:
        return value
    if human_type == "pass_fail_critical" and score_type == "pass_fail":
        return max(value, 0.0)
    if human_type == "pass_fail" and score_type == "pass_fail_critical":
        return value
    return None


def _differs(human: float, judged: float, rating_type: str) -> bool:
    if rating_type == "five_star":
        return abs(human - judged) >= 1.0
    rounded = min(
        allowed_values(rating_type), key=lambda v: (abs(v - judged), v)
    )  # ties go to the stricter value
    return rounded != human


def _disagreement(
    state: RunState, human: float | str, judged: float | str, results: EvalResults, judge: str
) -> Disagreement:
    verdict = results.verdict(judge, state.id)
    why = None
    if verdict is not None:
        scored = verdict.scored()
        why = next((r.explanation or r.reasoning for r in scored if r.explanation or r.reasoning), None)
    return Disagreement(
        state.id,
        _clip(state.run.input),
        _clip(state.run.output or ""),
        human,
        judged,
        _clip(why) if why else None,
    )


def _rater_agreement(rating: str, golden: list[RunState]) -> RaterAgreement | None:
    by_item: dict[str, dict[str, float | str]] = {}
    rating_type = None
    disagreements = []
    for state in golden:
        human = state.human_rating(rating)
        if human is None:
            continue
        rating_type = rating_type or human.type
        given: dict[str, float | str] = dict(human.labels) if human.type == "label" else dict(human.ratings)
        by_item[state.id] = given
        if len(set(given.values())) > 1:
            disagreements.append(
                RaterDisagreement(
                    state.id,
                    _clip(state.run.input),
                    given,
                    human.label if human.type == "label" else human.value,
                )
            )
    if rating_type is None:
        return None
    raters = sorted({r for ratings in by_item.values() for r in ratings})
    shared = {item: ratings for item, ratings in by_item.items() if len(ratings) >= 2}
    statistic, value = None, None
    if len(raters) == 2:
        a, b = raters
        both = [r for r in shared.values() if a in r and b in r]
        statistic, value = (
            "cohen_kappa",
            cohen_kappa([r[a] for r in both], [r[b] for r in both]) if both else None,
        )
    elif len(raters) > 2:
        level = {"pass_fail": "nominal", "label": "nominal", "pass_fail_critical": "ordinal"}.get(
            rating_type, "interval"
        )
        statistic, value = "krippendorff_alpha", krippendorff_alpha(shared, level)  # type: ignore[arg-type]
    return RaterAgreement(rating, rating_type, raters, len(shared), statistic, value, disagreements)


def _clip(text: str) -> str:
    return text if len(text) <= CLIP else text[:CLIP] + "..."
