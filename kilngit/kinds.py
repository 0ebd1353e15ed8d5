"""The table of record kinds: each kind of the format declared once.

A `Kind` says everything the rest of kilngit needs to know about one kind of record:

* `source`: the pydantic model (kilngit.records), or where it is (`"module:Class"`), imported on first use of
  `model`: a command pays only for the models of the kinds it reads;
* `path`: where its files live, as a template. `{name}` is a path part (`{task}`, `{slug}`, `{id}`, ...),
  `{id[:2]}` and `{id[2:4]}` shard folders named by characters of an ID;
* `older`: its templates in older project layouts (`LAYOUT`), which are read but never written;
* `identity`: which path parts a record's own fields must agree with (path part -> field); a kind with an
  identity can be written by `Project.write_record`, which derives its path from it;
* `refs`: the other records it points at (`Ref`), checked by `kilngit validate`;
* `check`: any further cross-record check (kilngit.kind_checks);
* `scope`: how it is listed: `Project.records(kind, **scope)` lists the records under those path parts,
  keyed by the remaining ones; `live` kinds (written while a job runs) are read fresh every time.

`layout` (paths), `load` (identity checks), `validate` (references), `Project` (listing, caching) and
`schema` (JSON Schema files) are all driven by this table; adding a kind is one `Kind(...)` entry here plus
its model (see "Add a record kind" in docs/architecture.md).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from kilngit import kind_checks as checks
from kilngit.problems import Problem, Severity
from kilngit.records.base import Definition, Record

if TYPE_CHECKING:
    from kilngit.kind_checks import Context

SLUG = r"[a-z0-9][a-z0-9_-]{0,63}"
ID = r"[0-9a-f]{16}"
RATER = r"[a-z0-9][a-z0-9._@+-]{0,127}"

#: The pattern each path part matches (a part not listed here is a slug).
PART_PATTERNS: dict[str, str] = {
    "id": ID,
    "run": ID,
    "rater": RATER,
    "round": r"[1-9][0-9]{0,5}",
    "first_step": r"[1-9][0-9]{0,8}",
}
_PLACEHOLDER = re.compile(r"\{(\w+)(?:\[(\d*):(\d+)\])?\}")

#: The project layout this kilngit writes: `layout` in kilngit.yaml (absent: 1). Layout 1 put bulk records in
#: one shard folder of two hex digits (about 3,900 files per folder at a million records, 39,000 at ten
#: million); layout 2 uses two levels (`ab/cd/`: at ten million, 256 + 256 + about 150 entries per folder, and
#: a one-file commit rewrites three small tree objects instead of one of thousands of entries). Record IDs and
#: bytes are the same in every layout; only paths differ. `kilngit migrate` moves a project to this layout.
LAYOUT = 2

#: A cross-record check: (context, file path, record, path parts) -> problems.
Check = Callable[["Context", str, Any, Mapping[str, str]], list[Problem]]


@dataclass(frozen=True)
class Ref:
    """A field of a record that names another record (of `kind`) which must exist.

    The target's path is its key part set to the field's value, the rest (task, eval) taken from the
    referring record's own path."""

    pointer: str
    """JSON pointer of the field, e.g. "/output_source/run_config"."""
    kind: str
    what: str
    """How a message names the target, e.g. "parent run"."""
    severity: Severity = "error"

    def value(self, record: Record) -> str | None:
        """The referenced key, or None when the field is empty."""
        value: Any = record
        for name in self.names:
            value = getattr(value, name, None)
            if value is None:
                return None
        return str(value) if value else None

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The attribute names on the way to the field (split once: asked for every record validated)."""
        return tuple(self.pointer.strip("/").split("/"))


@dataclass(frozen=True)
class Kind:
    """One record kind of the format (see the module docstring)."""

    name: str
    source: type[Record] | str
    """The model, or where it is: "module:Class" (see `model`)."""
    path: str
    identity: Mapping[str, str] = field(default_factory=dict)
    refs: tuple[Ref, ...] = ()
    check: Check | None = None
    scope: tuple[str, ...] = ("task",)
    live: bool = False
    older: Mapping[int, str] = field(default_factory=dict)
    """Its path template in older project layouts, keyed by the last layout version that used it."""

    def __post_init__(self) -> None:
        if not isinstance(self.source, str):
            self.model  # noqa: B018 (checked now: a kind given its class is refused at once)

    def template(self, layout: int = LAYOUT) -> str:
        """The path template of this kind in project layout `layout`."""
        if not self.older or layout == LAYOUT:  # the common case, once per path built
            return self.path
        return next((self.older[v] for v in sorted(self.older) if layout <= v), self.path)

    # The properties below are cached: a validate asks them for every reference of every record.
    @cached_property
    def model(self) -> type[Record]:
        """The pydantic model of this kind (imported now when `source` says where it is)."""
        model = self.source
        if isinstance(model, str):
            module, _, name = model.partition(":")
            __import__(module)  # as kilngit.records does (`python -X importtime` shows it)
            model = getattr(sys.modules[module], name)
        default = model.model_fields["kind"].default
        if default != self.name:
            raise ValueError(f"kind {self.name!r}: its model says kind {default!r}")
        return model

    @cached_property
    def model_name(self) -> str:
        """`module.Class` of the model, without importing it."""
        if isinstance(self.source, str):
            return self.source.replace(":", ".")
        return f"{self.source.__module__}.{self.source.__qualname__}"

    # Compiled on first use: a command classifies the paths of a few kinds (20 regexes cost ~4 ms).
    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The regex of `path` (its parts as named groups)."""
        return re.compile(_regex(self.path))

    @cached_property
    def needle(self) -> str:
        """The longest text of `path` outside its placeholders: a path without it cannot match `pattern`
        (a substring test is ten times cheaper than a regex that fails, once per kind per file classified)."""
        return max(reversed([text for text, _, _, _ in _pieces(self.path)]), key=len)  # ties: the later

    @cached_property
    def older_patterns(self) -> dict[int, re.Pattern[str]]:
        """The regexes of the `older` templates, by layout."""
        return {v: re.compile(_regex(t)) for v, t in self.older.items()}

    @cached_property
    def parts(self) -> tuple[str, ...]:
        """The path parts of the template, in order (each once, the shard left out)."""
        return tuple(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(self.path)))

    @cached_property
    def key(self) -> tuple[str, ...]:
        """The path parts that tell records apart within one listing (`parts` minus `scope`)."""
        return tuple(p for p in self.parts if p not in self.scope)

    @cached_property
    def yaml(self) -> bool:
        return self.path.endswith(".yaml")

    @cached_property
    def definition(self) -> bool:
        """A hand-edited YAML definition (named by its file) rather than a record kilngit writes."""
        return issubclass(self.model, Definition)

    @cached_property
    def sharded(self) -> bool:
        """Bulk kinds, sharded by ID: read without re-checking hashes when listed (validate does that)."""
        return any(m.group(3) for m in _PLACEHOLDER.finditer(self.path))

    def fill(self, params: Mapping[str, str], layout: int = LAYOUT) -> str:
        """The path (in project layout `layout`) with every part filled in from `params`."""
        # Several times per record in a validate: each template becomes one f-string, made once.
        if layout == LAYOUT or not self.older:
            return self._fill_current(params)
        return _filler(self.template(layout))(params)

    @cached_property
    def _fill_current(self) -> Callable[[Mapping[str, str]], str]:
        return _filler(self.path)


@cache
def _pieces(template: str) -> tuple[tuple[str, str, int, int | None], ...]:
    """(text before, part name or "", slice start, slice end) for each placeholder of `template`, then the
    text after the last one."""
    out, at = [], 0
    for m in _PLACEHOLDER.finditer(template):
        end = int(m.group(3)) if m.group(3) else None
        out.append((template[at : m.start()], m.group(1), int(m.group(2) or 0), end))
        at = m.end()
    out.append((template[at:], "", 0, None))
    return tuple(out)


_PLAIN_TEXT = re.compile(r"[\w./-]*")
"""Template text `_filler` writes into generated code as it is (no quote, brace or backslash)."""


@cache
def _filler(template: str) -> Callable[[Mapping[str, str]], str]:
    """The function filling in `template`: one f-string (a third of the cost of joining its pieces in a
    loop, and paths are filled several times per record of a validate). A template with any other text
    than letters, digits, `_ . / -` outside its placeholders is filled by the loop instead."""
    pieces = _pieces(template)
    if not all(_PLAIN_TEXT.fullmatch(text) and name.isidentifier() for text, name, _, _ in pieces[:-1]) or (
        not _PLAIN_TEXT.fullmatch(pieces[-1][0])
    ):
        return lambda params: _fill_pieces(pieces, params)
    body = "".join(
        text + (f"{{p[{name!r}][{start}:{'' if end is None else end}]}}" if name else "")
        for text, name, start, end in pieces
    )
    return eval(f'lambda p: f"{body}"')  # type: ignore[no-any-return]  # noqa: S307 (checked text only)


def _fill_pieces(pieces: tuple[tuple[str, str, int, int | None], ...], params: Mapping[str, str]) -> str:
    out = []
    for text, name, start, end in pieces:
        out.append(text)
        if name:
            out.append(params[name][start:end])
    return "".join(out)


def _regex(template: str) -> str:
    """The regex of a template; shard folders are matched as hex digits (`load` checks they fit the ID)."""
    out, at = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[at : m.start()]))
        name = m.group(1)
        if m.group(3):
            width = int(m.group(3)) - int(m.group(2) or 0)
            out.append(f"[0-9a-f]{{{width}}}")
        else:
            out.append(f"(?P<{name}>{PART_PATTERNS.get(name, SLUG)})")
        at = m.end()
    out.append(re.escape(template[at:]))
    return "".join(out)


_RECORDS = "kilngit.records."
_T = "tasks/{task}"
_E = _T + "/evals/{eval}"
_F = _T + "/finetunes/{slug}"
_OWNED_BY_FINETUNE = {"task": "task", "slug": "finetune"}

#: Every record kind, by name. Order matters only for docs: it is the order of docs/format.md.
KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add a kind to the table (the format's own kinds are registered below; tests add toy kinds)."""
    if kind.name in KINDS:
        raise ValueError(f"kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind added by `register` (for tests)."""
    del KINDS[name]


for _kind in (
    Kind("project", _RECORDS + "project:ProjectManifest", "kilngit.yaml", scope=()),
    Kind("task", _RECORDS + "task:Task", _T + "/task.yaml", scope=()),
    Kind("prompt", _RECORDS + "task:Prompt", _T + "/prompts/{slug}.yaml"),
    Kind(
        "run_config",
        _RECORDS + "task:RunConfig",
        _T + "/run_configs/{slug}.yaml",
        refs=(Ref("/prompt", "prompt", "prompt"),),
    ),
    Kind(
        "task_run",
        _RECORDS + "run:TaskRun",
        _T + "/runs/{id[:2]}/{id[2:4]}/{id}.json",
        {"task": "task", "id": "id"},
        refs=(
            Ref("/output_source/run_config", "run_config", "run config", "warning"),
            Ref("/parent", "task_run", "parent run", "warning"),
        ),
        older={1: _T + "/runs/{id[:2]}/{id}.json"},
    ),
    Kind(
        "annotation",
        _RECORDS + "annotation:Annotation",
        _T + "/annotations/{rater}/{run[:2]}/{run[2:4]}/{run}.json",
        {"task": "task", "rater": "rater", "run": "run"},
        refs=(Ref("/run", "task_run", "run"),),
        check=checks.annotation,
        older={1: _T + "/annotations/{rater}/{run[:2]}/{run}.json"},
    ),
    Kind(
        "eval",
        _RECORDS + "evals:Eval",
        _E + "/eval.yaml",
        refs=(Ref("/default_judge", "judge", "judge"),),
        check=checks.eval_,
    ),
    Kind(
        "judge",
        _RECORDS + "evals:Judge",
        _E + "/judges/{slug}.yaml",
        check=checks.judge,
        scope=("task", "eval"),
    ),
    Kind(
        "judge_result",
        _RECORDS + "evals:JudgeResult",
        _E + "/results/{judge}/{id[:2]}/{id[2:4]}/{id}.json",
        {"task": "task", "eval": "eval", "judge": "judge", "id": "id"},
        refs=(Ref("/run", "task_run", "run"), Ref("/judge", "judge", "judge", "warning")),
        check=checks.judge_result,
        scope=("task", "eval"),
        older={1: _E + "/results/{judge}/{id[:2]}/{id}.json"},
    ),
    Kind(
        "dataset_split",
        _RECORDS + "dataset:DatasetSplit",
        _T + "/splits/{slug}.yaml",
        check=checks.dataset_split,
    ),
    Kind(
        "split_membership",
        _RECORDS + "dataset:SplitMembership",
        _T + "/splits/{slug}.membership.json",
        {"task": "task", "slug": "split"},
        refs=(Ref("/split", "dataset_split", "split"),),
        check=checks.split_membership,
        scope=("task", "slug"),
        live=True,
    ),
    Kind(
        "finetune",
        _RECORDS + "finetune:FineTune",
        _F + "/finetune.yaml",
        refs=(Ref("/split", "dataset_split", "split"), Ref("/prompt", "prompt", "prompt")),
        check=checks.finetune,
    ),
    Kind(
        "finetune_status",
        _RECORDS + "finetune:FineTuneStatus",
        _F + "/status.json",
        _OWNED_BY_FINETUNE,
        refs=(Ref("/finetune", "finetune", "fine-tune"),),
        scope=("task", "slug"),
        live=True,
    ),
    Kind(
        "finetune_round",
        _RECORDS + "finetune:FineTuneRound",
        _F + "/rounds/{round}.json",
        {**_OWNED_BY_FINETUNE, "round": "round"},
        scope=("task", "slug"),
        live=True,
    ),
    Kind(
        "finetune_metrics",
        _RECORDS + "finetune:FineTuneMetrics",
        _F + "/metrics/{first_step}.json",
        {**_OWNED_BY_FINETUNE, "first_step": "first_step"},
        scope=("task", "slug"),
        live=True,
    ),
    Kind("job_request", _RECORDS + "queue:JobRequest", _T + "/queue/{id}.json", {"task": "task", "id": "id"}),
    Kind(
        "job_outcome",
        _RECORDS + "queue:JobOutcome",
        _T + "/queue/done/{id}.json",
        {"task": "task", "id": "id"},
    ),
):
    register(_kind)

BUILTIN = dict(KINDS)
"""The format's own kinds, as registered above (a process whose table differs, e.g. a test with a toy kind,
does not leave a report for `cache.warm`)."""
