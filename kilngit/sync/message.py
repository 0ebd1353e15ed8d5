"""Commit messages that say what changed, by kind and count: "annotate: 12 ratings by alice@example.com"."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kilngit import layout

SUBJECT_MAX = 72
TRAILER = "Committed-by: kilngit watch"

#: runner-written files of a named definition: kind -> (noun, verb)
_MACHINE_FILES = {
    "finetune_status": ("status updates", "finetune"),
    "finetune_round": ("rounds", "finetune"),
    "finetune_metrics": ("metrics files", "finetune"),
    "split_membership": ("memberships", "split"),
}
_DEFINITIONS = ("project", "task", "prompt", "run_config", "eval", "judge", "dataset_split", "finetune")


@dataclass(frozen=True)
class Staged:
    """A path going into a commit: added/modified (`deleted` False) or removed."""

    path: str
    deleted: bool = False
    new: bool = False


def commit_message(root: Path, items: list[Staged]) -> str:
    """Subject naming the biggest groups of changes, a body listing every group, and a trailer."""
    groups = _groups(root, items)
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [_phrase(key, n) for key, n in ordered]
    subject = parts[0]
    for i, part in enumerate(parts[1:], 1):
        rest = len(parts) - i - 1
        tail = f" (+{rest} more)" if rest else ""
        if len(subject) + 2 + len(part) + len(tail) > SUBJECT_MAX:
            subject += f" (+{len(parts) - i} more)"
            break
        subject += "; " + part
    body = "\n".join(f"- {p}" for p in parts)
    return f"{subject}\n\n{body}\n\n{TRAILER}\n"


def _groups(root: Path, items: list[Staged]) -> Counter[tuple[str, ...]]:
    groups: Counter[tuple[str, ...]] = Counter()
    for item in items:
        loc = layout.classify(item.path)
        verb = "remove" if item.deleted else ""
        if loc is None:
            groups[(verb or "record", "answers" if item.path.endswith(".json") else "files", "")] += 1
        elif loc.kind == "annotation":
            what = "annotations" if item.deleted else _annotation_kind(root / item.path)
            groups[(verb or "annotate", what, loc.params["rater"])] += 1
        elif loc.kind in _DEFINITIONS:
            slug = loc.params.get("slug") or loc.params.get("eval") or loc.params.get("task") or ""
            verb = verb or ("add" if item.new else "edit")
            groups[(verb, loc.kind.replace("_", " "), slug)] += 1
        elif loc.kind == "task_run":
            groups[(verb or "add", "runs", loc.params["task"])] += 1
        elif loc.kind == "judge_result":
            groups[(verb or "judge", "results", f"{loc.params['task']}/{loc.params['eval']}")] += 1
        elif loc.kind == "job_request":
            groups[(verb or "queue", "job requests", loc.params["task"])] += 1
        elif loc.kind == "job_outcome":
            groups[(verb or "finish", "jobs", loc.params["task"])] += 1
        elif loc.kind in _MACHINE_FILES:
            noun, owner = _MACHINE_FILES[loc.kind]
            groups[(verb or owner, noun, f"{loc.params['task']}/{loc.params['slug']}")] += 1
        else:
            groups[(verb or "update", loc.kind.replace("_", " ") + " files", loc.params.get("task", ""))] += 1
    return groups


def _phrase(key: tuple[str, ...], n: int) -> str:
    verb, what, who = key
    if what in ("annotations", "ratings", "labels"):
        return f"{verb}: {n} {_plural(what, n)} by {who}"
    if what in ("task", "prompt", "run config", "eval", "judge", "dataset split", "finetune", "project"):
        return f"{verb} {what} {who}" if n == 1 else f"{verb} {n} {what}s under {who}"
    return f"{verb}: {n} {_plural(what, n)}" + (f" ({who})" if who else "")


def _plural(word: str, n: int) -> str:
    if n != 1:
        return word
    return {
        "ratings": "rating",
        "labels": "label",
        "annotations": "annotation",
        "runs": "run",
        "results": "result",
        "answers": "answer",
        "files": "file",
        "jobs": "job",
        "job requests": "job request",
        "status updates": "status update",
        "rounds": "round",
        "metrics files": "metrics file",
        "memberships": "membership",
    }.get(word, word.removesuffix("s"))


def _annotation_kind(path: Path) -> str:
    """ "ratings" when the annotation rates the run, "labels" when it only tags or notes it."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return "annotations"
    return "ratings" if data.get("rating") or data.get("requirements") else "labels"
