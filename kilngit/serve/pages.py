"""The read-only pages: project, runs, run, compare, evals (the report's sections) and review."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from kilngit import layout
from kilngit._git import run_git
from kilngit.errors import KilngitError, UsageError
from kilngit.evals.items import eval_items, group_of, runs_on_inputs
from kilngit.evals.results import EvalResults, RunVerdict, eval_results
from kilngit.project import Project
from kilngit.serve import views
from kilngit.serve.app import Server
from kilngit.state import RunState

_REV = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/~^@{}-]{0,100}")
PER_PAGE = 50


# ---- project --------------------------------------------------------------------------------------------


@dataclass
class TaskSummary:
    slug: str
    name: str
    runs: int
    with_output: int
    rated: int
    unrated: int
    disputed: int
    raters: int
    evals: list[EvalSummary] = field(default_factory=list)


@dataclass
class EvalSummary:
    slug: str
    judge: str = ""
    headline: str = ""
    trust: str = ""
    problem: str = ""


def _eval_summary(project: Project, task: str, slug: str) -> EvalSummary:
    from kilngit.evals.align import eval_alignment
    from kilngit.evals.check import judge_gate
    from kilngit.evals.scores import eval_scores

    out = EvalSummary(slug)
    try:
        results = eval_results(project, task, slug)
        board = eval_scores(project, task, slug, results=results)
        out.judge = board.judge
        best = max(
            (g for g in board.groups if g.quality is not None), key=lambda g: g.quality or 0, default=None
        )
        out.headline = f"{best.quality:.2f} quality, {best.group} (n={best.n})" if best else "no scores yet"
        table = eval_alignment(project, task, slug, results=results)
        judge = next((j for j in table.judges if j.judge == board.judge), None)
        parts = []
        for s in judge.scores if judge else []:
            if s.report is not None:
                kappa = f", kappa {s.report.cohen_kappa:.2f}" if s.report.cohen_kappa is not None else ""
                acc = f"acc {s.report.accuracy:.2f}" if s.report.accuracy is not None else "acc -"
                parts.append(f"{s.score}: {acc}{kappa} (n={s.report.n})")
        ev = results.eval
        if ev.alignment_gate is not None and judge is not None:
            gate = judge_gate(board.judge, {s.score: s.report for s in judge.scores}, ev.alignment_gate)
            parts.append("trusted as a gate" if gate.trusted else "not trusted as a gate")
        out.trust = "; ".join(parts) or "no golden items rated yet"
    except KilngitError as e:
        out.problem = e.message
    return out


def _task_summary(project: Project, slug: str) -> TaskSummary:
    states = project.states(slug).values()
    raters = {a.rater for s in states for a in s.annotations}
    with_output = [s for s in states if s.run.output is not None]
    rated = sum(1 for s in with_output if s.rated)
    summary = TaskSummary(
        slug,
        project.tasks()[slug].name,
        len(states),
        len(with_output),
        rated,
        len(with_output) - rated,
        sum(1 for s in states if len(s.annotations) > 1 and s.disputed),
        len(raters),
    )
    summary.evals = [_eval_summary(project, slug, e) for e in project.evals(slug)]
    return summary


def recent_commits(project: Project, n: int = 12) -> list[list[str]]:
    """The last commits touching records: short hash, author, when, subject."""
    out = run_git(
        project.root,
        "log",
        f"-n{n}",
        "--format=%h%x1f%an%x1f%ar%x1f%s",
        "--",
        "tasks",
        layout.MANIFEST,
        check=False,
    )
    return [line.split("\x1f") for line in out.splitlines() if line.count("\x1f") == 3]


async def home(server: Server, request: Request) -> Response:
    project = server.project
    summaries = server.memo(("home",), lambda: [_task_summary(project, t) for t in project.tasks()])
    return server.render(
        request,
        "home.html",
        summaries=summaries,
        commits=recent_commits(project),
        problems=len(project.problems),
    )


# ---- runs -----------------------------------------------------------------------------------------------


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


async def runs(server: Server, request: Request) -> Response:
    task = server.task(request)
    q = request.query_params
    filter_text = q.get("q", "").strip() or "all"
    columns = [c for c in q.getlist("col") if c in views.COLUMNS] or list(views.DEFAULT_COLUMNS)
    sort, descending = q.get("sort", "id"), q.get("desc") == "1"
    error, result = None, None
    try:
        # Kept until anything changes, so paging and changing columns do not filter every run again.
        chosen = server.memo(
            ("runs", task, filter_text, sort, str(descending)),
            lambda: views.select_sorted(server.project, task, filter_text, sort, descending),
        )
        result = views.run_page(
            chosen,
            len(server.project.states(task)),
            columns,
            sort,
            descending,
            _int(q.get("page"), 1),
            PER_PAGE,
        )
    except UsageError as e:
        error = str(e)
    template = "runs_table.html" if request.headers.get("hx-request") else "runs.html"
    return server.render(
        request,
        template,
        task=task,
        filter_text=filter_text,
        result=result,
        error=error,
        columns=columns,
        all_columns=views.COLUMNS,
    )


# ---- run ------------------------------------------------------------------------------------------------


@dataclass
class JudgeView:
    eval: str
    judge: str
    type: str
    verdict: RunVerdict | None


def cached_results(server: Server, task: str, eval_slug: str) -> EvalResults:
    """`eval_results`, kept until the eval's results or definitions are reloaded."""
    project = server.project
    deps = (
        project.records("judge_result", task=task, eval=eval_slug),
        project.judges(task, eval_slug),
        project.evals(task),
    )
    return server.memo(
        ("results", task, eval_slug),
        lambda: eval_results(project, task, eval_slug),
        deps=(*deps, len(deps[0])),
    )


def judge_views(server: Server, task: str, run_id: str) -> list[JudgeView]:
    """Every current judge result about a run, by eval and judge (judges that have not judged it included)."""
    out = []
    for eval_slug in server.project.evals(task):
        results = cached_results(server, task, eval_slug)
        for name, judge in results.judges.items():
            out.append(JudgeView(eval_slug, name, judge.type, results.verdict(name, run_id)))
    return out


async def run(server: Server, request: Request) -> Response:
    task = server.task(request)
    run_id = server.run_id(request, task)
    state = server.project.states(task)[run_id]
    files = {a.rater: layout.annotation_file(task, a.rater, run_id) for a in state.annotations}
    return server.render(
        request,
        "run.html",
        task=task,
        state=state,
        run=state.run,
        files=files,
        judges=judge_views(server, task, run_id),
        requirements=server.project.task(task).requirements,
        run_file=layout.run_file(task, run_id),
        group=group_of(state.run),
    )


# ---- compare --------------------------------------------------------------------------------------------


@dataclass
class CompareRow:
    input: str
    cells: dict[str, list[tuple[RunState, dict[str, float]]]]
    differs: bool


@dataclass
class Comparison:
    judge: str
    groups: list[str]
    chosen: list[str]
    rows: list[CompareRow]
    means: dict[str, dict[str, float]]


def comparison(server: Server, task: str, eval_slug: str, configs: list[str], only_diff: bool) -> Comparison:
    """Every eval input with each chosen run config's first run on it and the default judge's scores."""
    from kilngit.evals.results import find_judge

    project = server.project
    results = cached_results(server, task, eval_slug)
    judge = find_judge(project, task, eval_slug, None) if results.judges else ""
    inputs = eval_items(project, task, results.eval).inputs
    by_input: dict[str, dict[str, list[tuple[RunState, dict[str, float]]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    groups: set[str] = set()
    for state in runs_on_inputs(project, task, inputs):
        if state.run.output is None and state.run.error is None:
            continue  # an input-only run is the input itself, not a config's answer
        group = group_of(state.run)
        groups.add(group)
        verdict = results.verdict(judge, state.id) if judge else None
        by_input[state.run.input][group].append((state, verdict.scores() if verdict else {}))
    chosen = [g for g in configs if g in groups] or sorted(groups)
    rows = []
    for text in inputs:
        cells = {g: by_input[text].get(g, []) for g in chosen}
        seen = {(tuple(sorted(sc.items())), s.run.output) for g in chosen for s, sc in cells[g][:1]}
        differs = len(seen) > 1 or any(not cells[g] for g in chosen)
        if differs or not only_diff:
            rows.append(CompareRow(text, cells, differs))
    means = {g: _mean_quality([sc for row in rows for _, sc in row.cells[g][:1]]) for g in chosen}
    return Comparison(judge, sorted(groups), chosen, rows, means)


async def compare(server: Server, request: Request) -> Response:
    """Run configs side by side on one eval's inputs, with the default judge's scores, 50 inputs a page."""
    task = server.task(request)
    evals = list(server.project.evals(task))
    q = request.query_params
    eval_slug = q.get("eval") or (evals[0] if evals else "")
    if not evals:
        return server.render(request, "compare.html", task=task, evals=[])
    if eval_slug not in evals:
        raise UsageError(f"task {task!r} has no eval {eval_slug!r}", f"evals: {', '.join(evals)}")
    configs, only_diff = q.getlist("config"), q.get("diff") == "1"
    result = server.memo(
        ("compare", task, eval_slug, ",".join(configs), str(only_diff)),
        lambda: comparison(server, task, eval_slug, configs, only_diff),
    )
    pages = max(1, -(-len(result.rows) // PER_PAGE))
    page = min(max(_int(q.get("page"), 1), 1), pages)
    return server.render(
        request,
        "compare.html",
        task=task,
        evals=evals,
        eval_slug=eval_slug,
        c=result,
        rows=result.rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        page=page,
        pages=pages,
        only_diff=only_diff,
        configs=configs,
        scores=[s.name for s in cached_results(server, task, eval_slug).eval.scores],
    )


def _mean_quality(scores: list[dict[str, float]]) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for sc in scores:
        for k, v in sc.items():
            sums[k].append(v)
    return {k: sum(v) / len(v) for k, v in sums.items()}


# ---- evals (the report's sections) ----------------------------------------------------------------------


async def evals(server: Server, request: Request) -> Response:
    from kilngit.report import report_sections

    project = server.project
    sections = server.memo(("evals",), lambda: report_sections(project))
    return server.render(request, "evals.html", sections=[(s.id, s.title, Markup(s.html)) for s in sections])


# ---- review ---------------------------------------------------------------------------------------------


async def review(server: Server, request: Request) -> Response:
    from kilngit.review.diff import review as review_range
    from kilngit.review.render import sections, summary_rows

    base = request.query_params.get("base", "HEAD~1").strip()
    head = request.query_params.get("head", "HEAD").strip()
    context: dict[str, Any] = {"base": base, "head": head}
    if not (_REV.fullmatch(base) and _REV.fullmatch(head)):
        context["error"] = "revisions are names like main, HEAD~3 or a commit hash"
    else:
        try:
            result = review_range(server.project.root, f"{base}..{head}")
            context.update(
                result=result,
                summary=summary_rows(result),
                sections=[
                    (
                        s.title,
                        s.headers,
                        [[c.replace("`", "") for c in row] for row in s.rows[:500]],
                        len(s.rows),
                        s.notes,
                    )
                    for s in sections(result)
                ],
            )
        except KilngitError as e:
            context["error"] = str(e)
    return server.render(request, "review.html", **context)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/", home, ["GET"]),
    ("/evals", evals, ["GET"]),
    ("/review", review, ["GET"]),
    ("/t/{task}/runs", runs, ["GET"]),
    ("/t/{task}/runs/{run}", run, ["GET"]),
    ("/t/{task}/compare", compare, ["GET"]),
]
