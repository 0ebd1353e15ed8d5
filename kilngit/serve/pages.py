"""The read-only pages: project, runs, run, evals (the report's sections) and review."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from kilngit import layout
from kilngit._git import run_git
from kilngit.errors import KilngitError, UsageError
from kilngit.evals.align import eval_alignment
from kilngit.evals.check import judge_gate
from kilngit.evals.items import group_of
from kilngit.evals.results import EvalResults, RunVerdict, eval_results
from kilngit.evals.scores import eval_scores
from kilngit.project import Project
from kilngit.report import report_sections
from kilngit.review.diff import review as review_range
from kilngit.review.render import sections, summary_rows
from kilngit.serve import views

if TYPE_CHECKING:  # app.py imports this module to build its routes
    from kilngit.serve.app import Server

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


def int_param(value: str | None, default: int) -> int:
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
            int_param(q.get("page"), 1),
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


# ---- evals (the report's sections) ----------------------------------------------------------------------


async def evals(server: Server, request: Request) -> Response:
    project = server.project
    sections = server.memo(("evals",), lambda: report_sections(project))
    return server.render(request, "evals.html", sections=[(s.id, s.title, Markup(s.html)) for s in sections])


# ---- review ---------------------------------------------------------------------------------------------


async def review(server: Server, request: Request) -> Response:
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
]
