"""Where each record kind lives in a project, and which kind a path holds.

The path templates are the `path` fields of the kinds table (kilngit.kinds); this module reads them both
ways: `classify` turns a path into its kind and path parts, `path` and the `*_file` helpers fill a template.
Bulk collections are sharded by the first four hex digits of the ID, two per folder level (`ab/cd/`), so
no folder holds more than 256 entries plus about 150 files at ten million records (project layout 2, see
`kinds.LAYOUT`). Paths of older layouts are still recognized (`Located.layout`), for reading and for
`kilngit migrate`; everything kilngit writes goes to the current layout.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache

from kilngit.errors import NewerFormatError, OldLayoutError
from kilngit.kinds import KINDS, LAYOUT, RATER, Kind
from kilngit.records.base import Record

__all__ = [
    "LAYOUT", "LOCAL_STATE", "MANIFEST", "SCHEMA_DIR", "Located", "check_layout", "annotation_file", "classify", "eval_dir", "eval_file",
    "finetune_file", "finetune_metrics_file", "identity_parts", "finetune_round_file", "finetune_status_file", "job_outcome_file",
    "job_request_file", "judge_file", "judge_result_file", "path", "prompt_file", "rater_dir", "record_path",
    "run_config_file", "run_file", "split_file", "split_membership_file", "task_dir", "task_file",
]  # fmt: skip

MANIFEST = KINDS["project"].path
LOCAL_STATE = ".kilngit"
#: Committed JSON Schemas of every record kind, which the `$schema` comments of YAML files point at.
SCHEMA_DIR = "schema"


@dataclass(frozen=True)
class Located:
    """A path classified: its kind and the parts of its identity the path encodes."""

    kind: str
    params: dict[str, str]
    yaml: bool
    layout: int | None = None
    """The older project layout whose path this is (None: the path is the one this kilngit writes)."""

    def fits(self, project_layout: int) -> bool:
        """True when this path is where a project of layout `project_layout` keeps the record."""
        kind = KINDS[self.kind]
        if self.layout is None:
            return kind.template(project_layout) == kind.path
        return kind.template(project_layout) == kind.older[self.layout]


def classify(relpath: str) -> Located | None:
    """The kind of record `relpath` (POSIX, relative to the project root) must hold, or None. Paths of
    older layouts are classified too, with `layout` set to the layout they belong to."""
    for kind in KINDS.values():
        if kind.needle in relpath and (m := kind.pattern.fullmatch(relpath)) is not None:
            return Located(kind.name, m.groupdict(), kind.yaml)
    for kind in KINDS.values():
        for version, pattern in kind.older_patterns.items():
            m = pattern.fullmatch(relpath)
            if m is not None:
                return Located(kind.name, m.groupdict(), kind.yaml, version)
    return None


def path(kind: str, **parts: str) -> str:
    """The path of the `kind` record at those path parts, e.g. `path("prompt", task="t", slug="p")`."""
    return KINDS[kind].fill(parts)


def check_layout(version: int, *, writing: bool) -> None:
    """Refuse a project layout this kilngit does not know (newer), or, when `writing`, one it only reads
    (older: `kilngit migrate` brings it up to date)."""
    if version > LAYOUT:
        raise NewerFormatError(
            MANIFEST,
            f"this project uses layout {version}, newer than this kilngit knows (up to {LAYOUT})",
            "/layout",
            "upgrade kilngit: pip install -U kilngit",
        )
    if writing and version < LAYOUT:
        raise OldLayoutError(
            f"this project uses the older folder layout {version} (kilngit writes layout {LAYOUT}); it can be "
            "read, but nothing is written into it until it is migrated",
            "run `kilngit migrate` (it moves the record files, keeping their history), then commit",
        )


_RATER_KEEP = re.compile(r"[a-z0-9._@-]")
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@lru_cache(maxsize=4096)  # a pure function of the name, asked once per annotation file; raters are few
def rater_dir(rater: str) -> str:
    """The folder name for a rater, one to one: lowercase letters, digits and `. _ @ -` are kept, and every
    other character (capitals, spaces, accents, `/`, `+` itself) is written as `+XX` per
    UTF-8 byte, so 'x y' and 'x_y', or 'Alice' and 'alice', never share a folder, and '.' or '../../etc'
    stay one folder name inside annotations/ (a name not starting with a letter or digit gets the prefix
    `0+_`). Raises ValueError when the name does not fit in 128 characters."""
    out = [
        c if _RATER_KEEP.fullmatch(c) else "".join(f"+{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        for c in rater
    ]
    name = "".join(out)
    if name[:1] not in _FIRST:
        name = "0+_" + name  # folder names start with a letter or digit; "+_" is never an escape, so no clash
    if not rater or len(name) > 128 or not re.fullmatch(RATER, name):
        raise ValueError(
            f"rater name {rater!r} is empty or too long for a folder name (at most 128 characters "
            "once encoded)"
        )
    return name


#: How a record field becomes its path part, where it is not the field's text as is.
_TO_PART = {"rater": rater_dir}


def identity_parts(kind: Kind, record: Record) -> dict[str, str]:
    """The path parts a record's own fields imply (empty for definitions, which are named by their file)."""
    d = record.__dict__
    return {part: _TO_PART.get(part, str)(str(d[name])) for part, name in kind.identity.items()}


def record_path(record: Record) -> str:
    """The path a machine or owned record must live at, derived from its own fields."""
    kind = KINDS[record.kind]
    if not kind.identity:
        raise ValueError(f"{record.kind} records are named by their file; pass the path explicitly")
    return kind.fill(identity_parts(kind, record))


def task_dir(task: str) -> str:
    return posixpath.dirname(task_file(task))


def task_file(task: str) -> str:
    return path("task", task=task)


def prompt_file(task: str, slug: str) -> str:
    return path("prompt", task=task, slug=slug)


def run_config_file(task: str, slug: str) -> str:
    return path("run_config", task=task, slug=slug)


def run_file(task: str, run_id: str) -> str:
    return path("task_run", task=task, id=run_id)


def annotation_file(task: str, rater: str, run_id: str) -> str:
    return path("annotation", task=task, rater=rater_dir(rater), run=run_id)


def eval_dir(task: str, eval_slug: str) -> str:
    return posixpath.dirname(eval_file(task, eval_slug))


def eval_file(task: str, eval_slug: str) -> str:
    return path("eval", task=task, eval=eval_slug)


def judge_file(task: str, eval_slug: str, judge: str) -> str:
    return path("judge", task=task, eval=eval_slug, slug=judge)


def judge_result_file(task: str, eval_slug: str, judge: str, result_id: str) -> str:
    return path("judge_result", task=task, eval=eval_slug, judge=judge, id=result_id)


def split_file(task: str, slug: str) -> str:
    return path("dataset_split", task=task, slug=slug)


def split_membership_file(task: str, slug: str) -> str:
    return path("split_membership", task=task, slug=slug)


def finetune_file(task: str, slug: str) -> str:
    return path("finetune", task=task, slug=slug)


def finetune_status_file(task: str, slug: str) -> str:
    return path("finetune_status", task=task, slug=slug)


def finetune_round_file(task: str, slug: str, round_number: int) -> str:
    return path("finetune_round", task=task, slug=slug, round=str(round_number))


def finetune_metrics_file(task: str, slug: str, first_step: int) -> str:
    return path("finetune_metrics", task=task, slug=slug, first_step=str(first_step))


def job_request_file(task: str, request_id: str) -> str:
    return path("job_request", task=task, id=request_id)


def job_outcome_file(task: str, outcome_id: str) -> str:
    return path("job_outcome", task=task, id=outcome_id)
