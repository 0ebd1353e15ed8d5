"""The compare page: run configs side by side on one eval's inputs, with the default judge's scores and the
inputs where they differ marked."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from kilngit.errors import UsageError
from kilngit.evals.items import eval_items, group_of, runs_on_inputs
from kilngit.evals.results import find_judge
from kilngit.serve.pages import PER_PAGE, cached_results, int_param
from kilngit.state import RunState

if TYPE_CHECKING:  # app.py imports this module to build its routes
    from kilngit.serve.app import Server


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
    page = min(max(int_param(q.get("page"), 1), 1), pages)
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


ROUTES: list[tuple[str, Any, list[str]]] = [("/t/{task}/compare", compare, ["GET"])]
