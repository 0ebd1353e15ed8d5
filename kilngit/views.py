"""Views of runs for people: one run in full (`show_run`) and a list of runs (`list_runs`).

Plain dataclasses with nothing but data, so the CLI, scripts and the web app render the same thing:

    detail = show_run(project, "3fa2")            # RunDetail: run, annotations, judge verdicts
    rows = list_runs(project, "ffmpeg", "rated")  # [RunRow], in ID order

Everything is derived from the files (runs, annotations, current judge results); nothing is stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kilngit.evals.results import EvalResults, eval_results
from kilngit.project import Project
from kilngit.records import Annotation, Rating, TaskRun
from kilngit.review.rating import find_run, rating_word
from kilngit.state import Consensus, RunState

__all__ = ["COLUMNS", "AnnotationView", "JudgeView", "RunDetail", "RunRow", "list_runs", "show_run", "short"]

#: The columns of `kilngit runs`, in their default order.
COLUMNS = ("id", "config", "input", "output", "consensus", "judges", "tags")
#: Columns that may be asked for besides the defaults.
EXTRA_COLUMNS = ("task", "model", "source", "error", "cost", "latency_ms", "raters")


def short(text: str | None, width: int = 48) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class AnnotationView:
    """What one rater said about a run, in words (`pass`, `4*`, `billing`)."""

    rater: str
    overall: str | None
    requirements: dict[str, str]
    tags_added: list[str]
    tags_removed: list[str]
    note: str | None
    repaired_output: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    """Other fields of the annotation as they are in the file (e.g. a reference answer)."""


@dataclass(frozen=True)
class JudgeView:
    """The current verdict of one judge of one eval on a run (stale results are counted, not shown)."""

    eval: str
    judge: str
    default: bool
    """True for the judge whose scores count for the eval."""
    scores: dict[str, float]
    explanation: str | None
    error: str | None
    samples: int


@dataclass(frozen=True)
class RunDetail:
    """One run in full: the record, its effective tags, consensus, each rater's annotation and judge verdicts."""

    run: TaskRun
    tags: list[str]
    consensus: dict[str, str]
    """"overall" and each rated requirement -> consensus in words ("disputed" when raters disagree)."""
    annotations: list[AnnotationView]
    judges: list[JudgeView]
    stale_results: int
    """Judge results of this run made by an older judge definition."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run"] = self.run.to_data()
        return data


@dataclass(frozen=True)
class RunRow:
    """One line of `kilngit runs`."""

    id: str
    task: str
    config: str
    """Run config slug, else who wrote the output (`human`, `file_import`), else `input-only`."""
    model: str
    source: str
    input: str
    output: str
    consensus: str
    """The overall consensus in words, else the requirements' (`correct=pass`), else `-`."""
    judges: dict[str, dict[str, float]]
    """`eval/judge` -> scores of the eval's counting judge."""
    tags: list[str]
    error: str | None
    cost: float | None
    latency_ms: float | None
    raters: int

    def cell(self, column: str, width: int = 40) -> str:
        """The value of one column as text (inputs and outputs on one line, cut to `width`)."""
        value = getattr(self, column)
        if column in ("input", "output"):
            return short(value, width)
        if column == "consensus":
            return short(value, 24)
        if column == "id":
            return self.id[:8]
        if column == "judges":
            return " ".join(
                f"{k.split('/')[0]}:" + ",".join(f"{v:.2g}" for v in s.values()) for k, s in value.items()
            )
        if column == "tags":
            return ",".join(value)
        return "" if value is None else str(value)

    def to_dict(self, columns: tuple[str, ...] | None = None) -> dict[str, Any]:
        data = asdict(self)
        return {c: data[c] for c in columns} if columns else data


def consensus_word(c: Consensus | None) -> str:
    """A consensus in words: `pass`, `4*`, `disputed` or `-` (unrated)."""
    if c is None:
        return "-"
    if c.type == "label":
        return c.label or "disputed"
    if c.value is None or c.disputed:
        return "disputed"

    return rating_word(Rating.model_construct(type=c.type, value=c.value))


def _annotation_view(a: Annotation) -> AnnotationView:
    known = {
        "kind",
        "v",
        "id",
        "task",
        "run",
        "rater",
        "rating",
        "requirements",
        "tags_added",
        "tags_removed",
        "note",
        "repaired_output",
        "kiln_id",
    }
    extra = {
        k: v
        for k, v in a.model_dump(mode="json", exclude_none=True, exclude_defaults=True).items()
        if k not in known
    }
    return AnnotationView(
        rater=a.rater,
        overall=rating_word(a.rating) if a.rating else None,
        requirements={n: rating_word(r) for n, r in a.requirements.items()},
        tags_added=list(a.tags_added),
        tags_removed=list(a.tags_removed),
        note=a.note,
        repaired_output=a.repaired_output,
        extra=extra,
    )


def _all_results(project: Project, task: str) -> list[EvalResults]:
    return [eval_results(project, task, slug) for slug in project.evals(task)]


def _counting_judge(results: EvalResults) -> str | None:
    if results.eval.default_judge in results.judges:
        return results.eval.default_judge
    return next(iter(results.judges)) if len(results.judges) == 1 else None


def show_run(project: Project, prefix: str, task: str | None = None) -> RunDetail:
    """Everything about the run whose ID starts with `prefix` (in `task`, or searched in every task)."""
    run = find_run(project, prefix, task)
    state = project.states(run.task)[run.id]
    judges: list[JudgeView] = []
    stale = 0
    for results in _all_results(project, run.task):
        counting = _counting_judge(results)
        stale += sum(
            1
            for r in project.judge_results(run.task, results.eval_slug)
            if r.run == run.id and results.hashes.get(r.judge) != r.judge_hash
        )
        for name in results.judges:
            verdict = results.verdict(name, run.id)
            if verdict is None:
                continue
            scored = verdict.scored()
            judges.append(
                JudgeView(
                    eval=results.eval_slug,
                    judge=name,
                    default=name == counting,
                    scores=verdict.scores(),
                    explanation=next((r.explanation for r in scored if r.explanation), None),
                    error=verdict.first_error(),
                    samples=len(verdict.samples),
                )
            )
    return RunDetail(
        run=run,
        tags=sorted(state.tags),
        consensus=_consensus_words(state),
        annotations=[_annotation_view(a) for a in state.annotations],
        judges=judges,
        stale_results=stale,
    )


def _consensus_words(state: RunState) -> dict[str, str]:
    out = {"overall": consensus_word(state.rating)} if state.rating else {}
    names = sorted({n for a in state.annotations for n in a.requirements})
    out.update({n: consensus_word(state.requirement(n)) for n in names})
    return out


def list_runs(project: Project, task: str | None = None, filter_text: str = "all") -> list[RunRow]:
    """The runs of `task` (default: the only task) matching `filter_text`, in ID order."""
    task = project.task_slug(task)
    counting = [(r, j) for r in _all_results(project, task) if (j := _counting_judge(r))]
    rows = []
    for state in project.select(task, filter_text):
        run = state.run
        judged = {
            f"{r.eval_slug}/{j}": v.scores()
            for r, j in counting
            if (v := r.verdict(j, run.id)) and v.scored()
        }
        rows.append(
            RunRow(
                id=run.id,
                task=task,
                config=_config(run),
                model=(run.output_source.model or "") if run.output_source else "",
                source=(run.output_source or run.input_source).type,
                input=run.input,
                output=run.output or "",
                consensus=_short_consensus(state),
                judges=judged,
                tags=sorted(state.tags),
                error=run.error.type if run.error else None,
                cost=run.usage.cost if run.usage else None,
                latency_ms=run.usage.latency_ms if run.usage else None,
                raters=sum(1 for a in state.annotations if a.rating or a.requirements),
            )
        )
    return rows


def _short_consensus(state: RunState) -> str:
    """The overall consensus, else the requirements' (`name=pass ...`), else `-`."""
    if state.rating:
        return consensus_word(state.rating)
    words = _consensus_words(state)
    return " ".join(f"{k}={v}" for k, v in words.items()) or "-"


def _config(run: TaskRun) -> str:
    if run.input_only:
        return "input-only"
    src = run.output_source
    if src is None:
        return "-"
    return src.run_config or (src.type if src.type != "synthetic" else src.model or "synthetic")
