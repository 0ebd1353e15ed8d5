"""The `files` rows of `.kilngit/cache/views.sqlite` (`kilngit.cache.views`): one per run, annotation and
judge-result file, parsed as the project loader parses it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kilngit.cache.records import read_listing
from kilngit.load import Parsed
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, TaskRun


def file_row(task: str, kind: str, parsed: Parsed, key: str) -> tuple[Any, ...]:
    """The `files` row of one parsed bulk file (see `kilngit.cache.views`)."""
    record, params = parsed.record, parsed.params
    valid = record is not None and not any(p.severity == "error" for p in parsed.problems)
    run = rater = eval_ = judge = jhash = None
    odd = False
    if kind == "task_run":
        run = params.get("id")
        odd = valid and (not isinstance(record, TaskRun) or record.id != run)
    elif kind == "annotation":
        run = params.get("run")
        if valid:
            odd = not isinstance(record, Annotation) or record.run != run
            rater = getattr(record, "rater", None)
    else:
        eval_ = params.get("eval")
        if valid:
            odd = not isinstance(record, JudgeResult)
            run, judge, jhash = (
                getattr(record, "run", None),
                getattr(record, "judge", None),
                getattr(record, "judge_hash", None),
            )
    problems = len(parsed.problems)
    return (parsed.relpath, key, task, kind, run, rater, eval_, judge, jhash, valid, problems, odd)


def read_files(project: Project, wanted: Iterable[tuple[str, str]]) -> Iterator[tuple[str, Parsed]]:
    """Parse files as the project loader does (through the cache of checked files), in path order per kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, relpath in wanted:
        by_kind.setdefault(kind, []).append(relpath)
    for kind, relpaths in by_kind.items():
        for parsed in read_listing(project.root, kind, sorted(relpaths, key=_order), project.layout_version):
            yield kind, parsed


def _order(relpath: str) -> list[str]:
    return relpath.split("/")  # the order of `Project.candidates` (folder by folder)
