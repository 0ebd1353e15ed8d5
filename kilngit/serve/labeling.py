"""The label page: a queue of runs over a filter, one form per run, every answer saved through the rating
library (`kilngit.review.rating`), exactly as `kilngit rate` and `kilngit label` save it.

The queue is derived from the files (the runs this rater has not rated, the disputed ones, or the suspects of
the last `kilngit audit EVAL --queue` not relabeled since), so a teammate's labels and a `git pull` change it
at once. Judges' verdicts on a run are shown only after the
person has answered it, so they do not anchor the answer. Undo restores the file as it was.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from kilngit import layout
from kilngit.errors import KilngitError, UsageError
from kilngit.evals.audit_queue import read_queue, runs_to_review
from kilngit.filters import RunFilter
from kilngit.records import Annotation, Task
from kilngit.review.label import in_queue
from kilngit.review.rating import (
    RatingChange,
    apply_change,
    describe_annotation,
    load_own_annotation,
    parse_overall,
    rating_word,
    save_annotation,
)
from kilngit.serve.pages import judge_views
from kilngit.state import RunState

if TYPE_CHECKING:  # app.py imports this module to build its routes
    from kilngit.serve.app import Server

QUEUES = ("unrated", "disputed", "suspects")
_KEYS = {"pass_fail": "pf", "pass_fail_critical": "pfc", "five_star": "12345", None: "pfc12345"}
_WORDS = {"p": "pass", "f": "fail", "c": "critical", **{str(i): f"{i}*" for i in range(1, 6)}}
_MAX_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Choice:
    key: str
    """The key that picks it."""
    value: str
    """What the form sends: a word the rating library reads (pass, 4*, or a label's class)."""


@dataclass(frozen=True)
class Row:
    """One rating the task asks for (overall, or one requirement) with its keyboard choices."""

    name: str
    field: str
    instruction: str
    choices: list[Choice]
    current: str
    """This rater's current value, as a choice value ("" for none)."""


def choices(rating_type: str | None, labels: list[str]) -> list[Choice]:
    """The keys for a rating type: p f c, 1-5 stars, or 1-9 for a label's classes."""
    if rating_type == "label":
        return [Choice(str(i + 1), label) for i, label in enumerate(labels[:9])]
    return [Choice(k, _WORDS[k]) for k in _KEYS.get(rating_type, _KEYS[None])]


def rows(task: Task, mine: Annotation | None) -> list[Row]:
    """The overall row and one row per requirement, each with the keys of its rating type."""
    out = [
        Row(
            "overall",
            "overall",
            task.instruction,
            choices(task.rating_type, task.labels),
            rating_word(mine.rating) if mine and mine.rating else "",
        )
    ]
    for req in task.requirements:
        given = mine.requirements.get(req.name) if mine else None
        out.append(
            Row(
                req.name,
                f"req.{req.name}",
                req.instruction,
                choices(req.type, req.labels),
                rating_word(given) if given else "",
            )
        )
    return out


class Queues:
    """Label queues (run IDs in ID order, as `kilngit label` orders them) kept between requests: rebuilt
    after a change on disk, and updated one run at a time after this server's own writes, so a label round
    trip does not go over every run again."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cache: dict[
            tuple[str, str, str, str], tuple[int, dict[str, RunState], RunFilter, list[str]]
        ] = {}
        server.on_write.append(self.update)

    def get(self, task: str, rater: str, filter_text: str, which: str) -> list[str]:
        key = (task, rater, filter_text, which)
        states = self.server.project.states(task)
        hit = self.cache.get(key)
        if hit is not None and hit[0] == self.server.disk_generation and hit[1] is states:
            return hit[3]
        flt = self.server.project.run_filter(task, filter_text or "all")
        ids = sorted(
            s.id for s in states.values() if flt.matches(s) and in_queue(s, rater, which == "disputed")
        )
        self.cache[key] = (self.server.disk_generation, states, flt, ids)
        return ids

    def update(self, task: str | None, run: str) -> None:
        for (slug, rater, _, which), (_, states, flt, ids) in self.cache.items():
            state = states.get(run) if slug == task else None
            if state is None:
                continue
            inside = flt.matches(state) and in_queue(state, rater, which == "disputed")
            i = bisect.bisect_left(ids, run)
            present = i < len(ids) and ids[i] == run
            if inside and not present:
                ids.insert(i, run)
            elif present and not inside:
                del ids[i]


def _params(source: Any) -> tuple[str, str]:
    which = source.get("queue") or "unrated"
    return (source.get("q") or "all").strip(), which if which in QUEUES else "unrated"


async def label(server: Server, request: Request) -> Response:
    task = server.task(request)
    filter_text, which = _params(request.query_params)
    wanted = request.query_params.get("run")
    after = request.query_params.get("after")
    return _panel(server, request, task, filter_text, which, current=wanted, after=after)


async def rate(server: Server, request: Request) -> Response:
    task = server.task(request)
    form = await request.form()
    filter_text, which = _params(form)
    run_id = server.run_id(request, task, str(form.get("run", "")))
    session = request.scope["kilngit.session"]
    run = server.project.runs(task)[run_id]
    change = _change(form, server.project.task(task))
    if change is None:
        return _panel(server, request, task, filter_text, which, after=run_id, message="skipped")
    if run.output is None and (change.overall or change.label or change.requirements):
        raise UsageError(f"run {run_id} has no output to rate", "run the task on it first, or only tag it")
    before = load_own_annotation(server.project, task, session.rater, run_id)
    after = apply_change(
        server.project, run, session.rater, change, before, seconds_on_item=_seconds(form.get("seconds"))
    )
    relpath = _save(server, task, session.rater, run_id, after)
    session.undo.append((task, run_id, before))
    return _panel(server, request, task, filter_text, which, after=run_id, answered=(run_id, after, relpath))


async def undo(server: Server, request: Request) -> Response:
    task = server.task(request)
    form = await request.form()
    filter_text, which = _params(form)
    session = request.scope["kilngit.session"]
    mine = [i for i, step in enumerate(session.undo) if step[0] == task]
    if not mine:
        return _panel(server, request, task, filter_text, which, message="nothing to undo")
    _, run_id, before = session.undo.pop(mine[-1])
    relpath = _save(server, task, session.rater, run_id, before)
    return _panel(
        server,
        request,
        task,
        filter_text,
        which,
        current=run_id,
        message=f"undone: {relpath} is back to {describe_annotation(before)}",
    )


def _change(form: FormData, task: Task) -> RatingChange | None:
    """The change the form asks for; None when it says nothing (a skip). Values are checked by the library."""
    overall = str(form.get("overall") or "")
    given = {r.name: str(form.get(f"req.{r.name}") or "") for r in task.requirements}
    words = str(form.get("tags") or "").split()
    note, repair = str(form.get("note") or "").strip(), str(form.get("repair") or "")
    reference = str(form.get("reference") or "")
    had = (
        form.get("had") == "1"
    )  # the rater had an annotation: an emptied note, repair or reference removes it
    labeled = task.rating_type == "label"
    change = RatingChange(
        overall=parse_overall(overall) if overall and not labeled else None,
        label=overall if labeled and overall else None,
        requirements={k: v for k, v in given.items() if v},
        tags_add=tuple(w for w in words if not w.startswith("-")),
        tags_remove=tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1),
        note=note if note or had else None,
        repair=repair if repair.strip() or had else None,
        reference=reference if reference.strip() or had else None,
    )
    nothing = not (
        change.overall
        or change.label
        or change.requirements
        or change.tags_add
        or change.tags_remove
        or note
        or repair.strip()
        or reference.strip()
    )
    return None if nothing and not had else change


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_SECONDS) if seconds == seconds else None


def _save(server: Server, task: str, rater: str, run_id: str, annotation: Annotation | None) -> str:
    """Save (or delete) the rater's annotation through the rating library; returns its path."""
    save_annotation(server.project, task, rater, run_id, annotation)
    relpath = layout.annotation_file(task, rater, run_id)
    server.fresh.absorb(relpath)
    server.changed(task, run_id)
    return relpath


def _suspects(
    server: Server, task: str, rater: str, filter_text: str
) -> tuple[list[str], dict[str, list[str]]]:
    """The runs of the task's audit queue (`kilngit audit EVAL --queue`) this rater has not labeled since
    the audit, most suspect first, with the audit's evidence for each."""
    audit = read_queue(server.project, task)
    flt = server.project.run_filter(task, filter_text or "all")
    states = server.project.states(task)
    runs = [r for r in runs_to_review(server.project, audit, rater) if flt.matches(states[r])]
    return runs, audit.evidence


def _panel(
    server: Server,
    request: Request,
    task: str,
    filter_text: str,
    which: str,
    current: str | None = None,
    after: str | None = None,
    answered: tuple[str, Annotation | None, str] | None = None,
    message: str = "",
) -> Response:
    session = request.scope["kilngit.session"]
    error: str | None = None
    evidence: dict[str, list[str]] = {}
    try:
        if which == "suspects":
            queue, evidence = _suspects(server, task, session.rater, filter_text)
        else:
            queue = server.queues.get(task, session.rater, filter_text, which)
    except KilngitError as e:
        queue, error = [], str(e)
    position = {run: i for i, run in enumerate(queue)}
    if current is not None:
        current = server.run_id(request, task, current)
    elif queue and which == "suspects":  # most suspect first; an answered run has left the queue
        i = position[after] + 1 if after in position else 0
        current = queue[i] if i < len(queue) else None
    elif queue:
        i = 0 if after is None else bisect.bisect_right(queue, after)
        current = queue[i] if i < len(queue) else None
    context: dict[str, Any] = dict(
        task=task,
        filter_text=filter_text,
        which=which,
        queues=QUEUES,
        queue=queue,
        error=error,
        message=message,
        current=None,
    )
    if current is not None:
        state = server.project.states(task)[current]
        mine = load_own_annotation(server.project, task, session.rater, current)
        context.update(
            current=state,
            run=state.run,
            mine=mine,
            position=position[current] + 1 if current in position else None,
            evidence=evidence.get(current, []),
            rows=rows(server.project.task(task), mine),
            others=[
                a for a in state.annotations if layout.rater_dir(a.rater) != layout.rater_dir(session.rater)
            ],
        )
    if answered is not None:
        run_id, annotation, relpath = answered
        context.update(
            answered=run_id,
            answered_file=relpath,
            answered_text=describe_annotation(annotation),
            suggestions=[j for j in judge_views(server, task, run_id) if j.verdict is not None],
        )
    template = "label_panel.html" if request.headers.get("hx-request") else "label.html"
    return server.render(request, template, **context)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/t/{task}/label", label, ["GET"]),
    ("/t/{task}/label/rate", rate, ["POST"]),
    ("/t/{task}/label/undo", undo, ["POST"]),
]
