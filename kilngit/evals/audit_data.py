"""What an audit of an eval's golden labels reads: per golden item, each person's label of the audited score
(with when and how fast it was given) and each judge's current verdict, all as classes of the score.

Classes are the score's values as people say them (`pass`, `fail`, `critical`, `1*`..`5*`) or, for label
scores, its class names. A human pass/fail/critical rating read against a pass/fail score counts critical as fail (as judge
alignment does). A judge's mean score between two values (G-Eval, several samples) is split between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kilngit.errors import NotFoundError
from kilngit.evals.items import eval_items
from kilngit.evals.labels import human_rating_name, score_classes
from kilngit.evals.metrics import PASS_FAIL_LABELS, allowed_values
from kilngit.evals.results import EvalResults, eval_results
from kilngit.project import Project
from kilngit.records import EvalScore
from kilngit.records.judge_types import JUDGE_TYPES
from kilngit.state import RunState

Dist = dict[str, float]
"""A distribution over the score's classes (one-hot for a person's label)."""


@dataclass(frozen=True)
class HumanLabel:
    rater: str
    label: str
    rated_at: str | None
    seconds_on_item: float | None


@dataclass(frozen=True)
class JudgeView:
    judge: str
    verdict: Dist
    """The judge's current verdict as a distribution over classes."""
    execution: bool
    """True for judges that run or check the output by code (code judges, simple checks), not by a model."""
    why: str | None
    """The judge's explanation (or error), clipped, for reviewers."""
    result: str
    """ID of the judge result read (its first current result)."""


@dataclass
class AuditItem:
    state: RunState
    humans: list[HumanLabel]
    consensus: str | None
    """The human consensus class, None when the raters are split."""
    judges: list[JudgeView] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    """grouping name (session, topic, source) -> the group this run was generated in."""

    @property
    def id(self) -> str:
        return self.state.id

    @property
    def text_chars(self) -> int:
        return len(self.state.run.input) + len(self.state.run.output or "")


@dataclass
class AuditData:
    task: str
    eval_slug: str
    score: EvalScore
    human_rating: str
    classes: list[str]
    items: list[AuditItem]
    judges: dict[str, str]
    """judge slug -> type, for the judges of the eval."""
    not_judged: dict[str, int]
    """judge slug -> golden items with no current result from it."""
    results: EvalResults


def class_of(value: float, score_type: str) -> str:
    """A numeric value of a score as a class name: pass / fail / critical, or stars (`4*`)."""
    return f"{value:g}*" if score_type == "five_star" else PASS_FAIL_LABELS[value]


def numeric_dist(value: float, score_type: str) -> Dist:
    """A judge's mean value as a distribution over the two nearest classes."""
    values = list(allowed_values(score_type))
    if value <= values[0]:
        return {class_of(values[0], score_type): 1.0}
    if value >= values[-1]:
        return {class_of(values[-1], score_type): 1.0}
    for low, high in zip(values, values[1:], strict=False):
        if low <= value <= high:
            weight = (value - low) / (high - low)
            pairs = ((class_of(low, score_type), 1 - weight), (class_of(high, score_type), weight))
            return {k: w for k, w in pairs if w > 0}
    raise AssertionError("unreachable")


def session_groups(state: RunState) -> dict[str, str]:
    """The groups a run was generated in: a session tag (Kiln tags each synthetic-data session
    `synthetic_session_<id>`), the topic of a generated input, and the run config or model of the output."""
    run, out = state.run, {}
    sessions = sorted(t for t in state.tags if "session" in t)
    if sessions:
        out["session"] = sessions[0]
    if run.input_source and run.input_source.topic:
        out["topic"] = " / ".join(run.input_source.topic)
    source = run.output_source
    if source and (source.run_config or source.model):
        out["source"] = f"{source.run_config or source.model}"
    return out


def load_audit_data(project: Project, task: str, eval_slug: str, score_name: str | None = None) -> AuditData:
    """The golden items of an eval with their human labels and judge verdicts for one score (default: the
    eval's first)."""
    results = eval_results(project, task, eval_slug)
    ev = results.eval
    score = next((s for s in ev.scores if s.name == score_name), None) if score_name else ev.scores[0]
    if score is None:
        raise NotFoundError(
            f"eval {eval_slug!r} has no score {score_name!r}",
            f"scores: {', '.join(s.name for s in ev.scores)}",
        )
    task_def = project.task(task)
    rating = human_rating_name(score, task_def)
    labels = score.type == "label"
    classes = (
        score_classes(score, task_def)
        if labels
        else [class_of(v, score.type) for v in allowed_values(score.type)]
    )
    items, not_judged = [], {name: 0 for name in results.judges}
    for state in eval_items(project, task, ev).golden:
        humans = _humans(state, rating, score.type, labels)
        if not humans:
            continue
        consensus = state.human_rating(rating)
        chosen = None
        if consensus is not None:
            chosen = consensus.label if labels else _on_scale(consensus.value, consensus.type, score.type)
        item = AuditItem(state, humans, chosen, sessions=session_groups(state))
        for name, judge in results.judges.items():
            view = _judge_view(results, name, judge.type, state.id, score, classes, labels)
            if view is None:
                not_judged[name] += 1
            else:
                item.judges.append(view)
        items.append(item)
    return AuditData(
        task,
        eval_slug,
        score,
        rating,
        classes,
        items,
        {n: j.type for n, j in results.judges.items()},
        not_judged,
        results,
    )


def _on_scale(value: float | None, human_type: str, score_type: str) -> str | None:
    if value is None:
        return None
    if human_type == "pass_fail_critical" and score_type == "pass_fail":
        value = max(value, 0.0)
    elif human_type != score_type and not (human_type == "pass_fail" and score_type == "pass_fail_critical"):
        return None
    return class_of(value, score_type)


def _humans(state: RunState, rating: str, score_type: str, labels: bool) -> list[HumanLabel]:
    out = []
    for a in state.annotations:
        given = a.rating if rating == "overall" else a.requirements.get(rating)
        if given is None:
            continue
        label = given.label if labels else _on_scale(given.value, given.type, score_type)
        if label is not None:
            out.append(HumanLabel(a.rater, label, a.rated_at, a.seconds_on_item))
    return out


def _judge_view(
    results: EvalResults,
    name: str,
    kind: str,
    run_id: str,
    score: EvalScore,
    classes: list[str],
    labels: bool,
) -> JudgeView | None:
    verdict = results.verdict(name, run_id)
    if verdict is None or not verdict.scored():
        return None
    first = verdict.scored()[0]
    if labels:
        label = verdict.labels().get(score.name)
        if label is None:
            return None
        dist: Dist = {label: 1.0}
    else:
        value = verdict.scores().get(score.name)
        if value is None:
            return None
        dist = numeric_dist(value, score.type)
    why = _why(first.explanation or first.reasoning, first.details or {})
    return JudgeView(
        name,
        dist,
        not JUDGE_TYPES[kind].calls_model,
        why if why is None or len(why) <= 300 else why[:300] + "...",
        first.id,
    )


_FAILING = re.compile(r"FAIL|error|refus|exit (code )?[1-9]", re.I)


def _why(text: str | None, details: dict) -> str | None:
    """What a reviewer reads first: a one-line `details.verdict.reason` when the judge gives one (the example's
    execution judge does), else the explanation's failing lines first."""
    verdict = details.get("verdict")
    if isinstance(verdict, dict) and isinstance(verdict.get("reason"), str):
        return verdict["reason"]
    if not text:
        return None
    parts = [p.strip() for p in re.split(r"[\n;]", text) if p.strip()]
    failing = [p for p in parts if _FAILING.search(p)]
    return "; ".join(failing or parts)
