"""The scoreboard of an eval: per run config, each score's mean with a 95% confidence interval, the winner,
what is missing, and beside quality the cost and latency of each run config, with the Pareto front.

Which runs count: the eval set, plus every run on an eval input that the judge has judged (so run configs
compared with `run eval --config` appear). Runs are grouped by `kilngit.evals.items.group_of`. For a run
config whose runs carry its current definition hash, runs made before its last edit are left out (counted
as `stale_runs`). A run's score is the mean over its samples; results from older judge definitions are never
used (counted as `stale_results`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kilngit.evals.items import eval_items, runs_on_inputs
from kilngit.evals.labels import LabelStats, label_stats, score_classes
from kilngit.evals.metrics import JsonDataclass, allowed_values, mean_ci, normalize, percentile
from kilngit.evals.results import EvalResults, eval_results, find_judge
from kilngit.evals.tally import Tally
from kilngit.evals.truth import human_truth
from kilngit.evals.winners import mark_winners
from kilngit.project import Project
from kilngit.records import Eval, EvalScore, Task
from kilngit.records.task import run_config_hash  # not kilngit.runner: that loads the model providers
from kilngit.run_rows import RunRow, TaskDefs, Verdict, input_digest, run_row


@dataclass(frozen=True)
class ScoreStat(JsonDataclass):
    """One score of one group: mean and 95% CI on the rating's own scale, and the mean normalized to 0..1."""

    name: str
    type: str
    n: int
    mean: float | None
    low: float | None
    high: float | None
    normalized: float | None
    winner: bool = False
    labels: LabelStats | None = None
    """Label scores: the group's classes against the human classes (mean = accuracy)."""


@dataclass
class GroupScores(JsonDataclass):
    """One run config (or other source of outputs) on the scoreboard."""

    group: str
    n: int
    """Runs with current scores from the judge."""
    scores: dict[str, ScoreStat]
    quality: float | None
    """Mean of the normalized score means (0..1): the one number the winner and the Pareto front use."""
    missing_inputs: int
    """Eval inputs this group has no run with an output for."""
    unjudged: int
    """Runs with an output but no current result from the judge (run the eval)."""
    judge_errors: int
    """Runs whose current results are all errors."""
    failed_runs: int
    """Runs without an output (the model failed); never judged."""
    stale_runs: int
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    mean_cost: float | None
    """US dollars per item; None when any answered run's cost is unknown (no price for its model)."""
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    winner: bool = False
    pareto: bool = False
    model: str | None = None
    """The model of the group's runs (`provider/model`), when they share one."""
    prompt: str | None = None
    """The prompt of the group's runs, when they share one."""
    cost_unknown: int = 0
    """Answered runs without a known cost: the group's cost is unknown, it is left off the Pareto front."""


@dataclass
class Scoreboard(JsonDataclass):
    task: str
    eval: str
    judge: str
    judge_id: str
    inputs: int
    """Distinct eval inputs."""
    groups: list[GroupScores] = field(default_factory=list)
    stale_results: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)


def eval_scores(
    project: Project,
    task: str | None,
    eval_slug: str,
    judge: str | None = None,
    results: EvalResults | None = None,
    *,
    views: bool = False,
) -> Scoreboard:
    """The scoreboard of one eval with one judge (default: the eval's default judge, else its only judge).
    `views`: without `results`, compute it from the local cache's per-run rows when it has them
    (`kilngit.cache.views`: the same board, without reading every record when few files changed)."""
    task = project.task_slug(task)
    judge = find_judge(project, task, eval_slug, judge)
    if views and results is None:
        from kilngit.evals.board_view import board_from_view  # it computes boards with `_board` below

        board = board_from_view(project, task, eval_slug, judge)
        if board is not None:
            return board
    results = results or eval_results(project, task, eval_slug)
    ev = results.eval
    items = eval_items(project, task, ev)
    inputs = items.inputs
    verdicts = results.current.get(judge, {})
    chosen = {s.id: s for s in items.eval_set}
    chosen.update({s.id: s for s in runs_on_inputs(project, task, inputs) if s.id in verdicts})
    rows: list[tuple[RunRow, Verdict]] = []
    for state in chosen.values():
        verdict = results.verdict(judge, state.id)
        rows.append((run_row(state, {}, _NO_DEFS), (verdict.scores(), verdict.labels()) if verdict else None))
    truth: dict[str, str | None] = {}
    if any(s.type == "label" for s in ev.scores):
        truth = {input_digest(text): t.label for text, t in human_truth(project, task).items()}
    digests = {input_digest(text) for text in inputs}
    return _board(
        project,
        task,
        eval_slug,
        ev,
        judge,
        results.hashes[judge],
        rows,
        digests,
        results.stale_total(),
        truth,
    )


_NO_DEFS = TaskDefs("", {}, {}, {}, {}, "")  # rows for the scoreboard alone: no eval membership, no verdicts


def _board(
    project: Project,
    task: str,
    eval_slug: str,
    ev: Eval,
    judge: str,
    judge_id: str,
    rows: list[tuple[RunRow, Verdict]],
    inputs: set[str],
    stale: int,
    truth: dict[str, str | None],
    tallies: dict[str, tuple[str | None, Tally]] | None = None,
) -> Scoreboard:
    """The scoreboard of `rows`. `tallies`, when given, gets each group's (the config hash its kept runs
    carry, or None: all kept; its `Tally`), for the cache to change the board run by run."""
    by_group: dict[str, list[tuple[RunRow, Verdict]]] = defaultdict(list)
    for row, verdict in rows:
        if not row.input_only:  # an input waiting for answers is no one's output: not a scoreboard row
            by_group[row.group].append((row, verdict))
    board = Scoreboard(
        task, eval_slug, judge, judge_id, len(inputs), stale_results=stale, thresholds=dict(ev.thresholds)
    )
    current = _current_config_hashes(project, task)
    definition = project.task(task)
    for group, members in sorted(by_group.items()):
        got, kept, tally = _group_scores(
            group, members, ev.scores, inputs, current.get(group), truth, definition
        )
        board.groups.append(got)
        if tallies is not None:
            tallies[group] = (kept, tally)
    rank(board)
    return board


def rank(board: Scoreboard) -> None:
    """Mark the winners and the Pareto front, and sort the groups best first (readers look for the top of
    the table: groups without a quality last, then by name)."""
    mark_winners(board)
    board.groups.sort(key=lambda g: (g.quality is None, -(g.quality or 0.0), g.group))


def _group_scores(
    group: str,
    rows: list[tuple[RunRow, Verdict]],
    scores: list[EvalScore],
    inputs: set[str],
    config_hash: str | None,
    truth: dict[str, str | None],
    task: Task,
) -> tuple[GroupScores, str | None, Tally]:
    """The group's scores, the config hash of the runs kept (None: all), and the tally of their verdicts."""
    stale_runs, kept = 0, None
    if config_hash and any(r.config_hash == config_hash for r, _ in rows):
        kept = config_hash
        picked = [(r, v) for r, v in rows if r.config_hash == config_hash]
        stale_runs, rows = len(rows) - len(picked), picked
    tally = Tally()
    for row, verdict in rows:
        tally.add(row.has_output, verdict, truth.get(row.input))
    stats, quality = scored(tally, scores, task)
    answered_rows = [r for r, _ in rows if r.has_output]
    answered = {r.input for r in answered_rows}
    usages = [r.usage for r, _ in rows if r.usage is not None]
    latencies = [u[3] for u in usages if u[3] is not None]
    cost_unknown = sum(1 for r in answered_rows if r.usage is None or r.usage[2] is None)
    sources = [r.source for r in answered_rows if r.source is not None]
    models = {model for model, _ in sources}
    prompts = {prompt for _, prompt in sources if prompt}
    out = GroupScores(
        group=group,
        n=tally.n,
        scores=stats,
        quality=quality,
        missing_inputs=len(inputs - answered),
        unjudged=tally.unjudged,
        judge_errors=tally.errors,
        failed_runs=tally.failed,
        stale_runs=stale_runs,
        mean_input_tokens=_mean([u[0] for u in usages]),
        mean_output_tokens=_mean([u[1] for u in usages]),
        mean_cost=None if cost_unknown else _mean([u[2] for u in usages]),  # an unknown cost is not free
        p50_latency_ms=percentile(latencies, 50),
        p95_latency_ms=percentile(latencies, 95),
        model=next(iter(models)) if len(models) == 1 else None,
        prompt=next(iter(prompts)) if len(prompts) == 1 else None,
        cost_unknown=cost_unknown,
    )
    return out, kept, tally


def scored(tally: Tally, scores: list[EvalScore], task: Task) -> tuple[dict[str, ScoreStat], float | None]:
    """Each score's statistics from a group's `tally` (scores without a value left out), and the quality:
    the mean of their normalized means."""
    stats = {
        s.name: _stat(s, values, tally.listed_pairs(s.name), task)
        for s in scores
        if (values := tally.listed(s.name))
    }
    normalized = [st.normalized for st in stats.values() if st.normalized is not None]
    return stats, sum(normalized) / len(normalized) if normalized else None


def _stat(
    score: EvalScore,
    values: list[float],
    pairs: list[tuple[str, str]] | None = None,
    task: Task | None = None,
) -> ScoreStat:
    ci = mean_ci(values)
    if score.type == "label":  # values are 1 right / 0 wrong: the mean is the accuracy
        stats = label_stats(pairs or [], score_classes(score, task)) if task else None
        return ScoreStat(
            score.name, score.type, ci.n, ci.mean, _unit(ci.low), _unit(ci.high), ci.mean, labels=stats
        )
    allowed = allowed_values(score.type)
    low_end, high_end = allowed[0], allowed[-1]

    def clamp(v: float | None) -> float | None:
        return None if v is None else min(high_end, max(low_end, v))

    return ScoreStat(
        score.name,
        score.type,
        ci.n,
        ci.mean,
        clamp(ci.low),
        clamp(ci.high),
        None if (mean := clamp(ci.mean)) is None else normalize(mean, score.type),
    )


def _unit(v: float | None) -> float | None:
    return None if v is None else min(1.0, max(0.0, v))


def _mean(values: list[float | int | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _current_config_hashes(project: Project, task: str) -> dict[str, str]:
    definition, prompts = project.task(task), project.prompts(task)
    return {
        slug: run_config_hash(definition, prompts[rc.prompt], rc)
        for slug, rc in project.run_configs(task).items()
        if rc.prompt in prompts
    }
