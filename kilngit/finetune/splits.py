"""Dataset splits: which runs to train and test on, decided once and then frozen.

Membership is deterministic: candidate runs are ordered by SHA-256 of `"<seed>:<run id>"` and cut into the
parts by their fractions, so two people materializing the same split over the same runs get the same file.
It is frozen when first materialized: runs added later are never moved between parts. `--extend` adds new
runs to the parts (each to the part furthest below its share) without moving any, `--force` re-splits.

Runs in any eval set or golden set of the task are left out unless the split allows them, so a model is not
trained on the items it is judged on.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from kilngit import layout
from kilngit.errors import KilngitError, NotFoundError, UsageError, did_you_mean
from kilngit.project import Project
from kilngit.records import DatasetSplit, SplitMembership, SplitPart, is_slug
from kilngit.records.canonical import content_id


@dataclass(frozen=True)
class SplitReport:
    """What materializing (or showing) a split found."""

    membership: SplitMembership
    created: bool
    """True when this call wrote the membership file (first time, --extend or --force)."""
    added: int
    """Runs added to the parts by this call."""
    waiting: int
    """Candidate runs in no part (added after the split was frozen)."""
    excluded: int
    """Candidates left out because they are in an eval set or golden set."""
    stale: bool = False
    """The definition changed after the membership was frozen."""
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "split": self.membership.split,
            "task": self.membership.task,
            "parts": self.counts,
            "written": self.created,
            "added": self.added,
            "waiting": self.waiting,
            "excluded": self.excluded,
            "stale": self.stale,
            "definition_hash": self.membership.definition_hash,
        }


def parse_parts(specs: list[str] | tuple[str, ...]) -> list[SplitPart]:
    """Parts from `NAME=FRACTION` items (each may hold several, comma separated): `train=0.8,test=0.2`."""
    parts = []
    for item in (p.strip() for spec in specs for p in spec.split(",") if p.strip()):
        name, sep, value = item.partition("=")
        try:
            parts.append(SplitPart(name=name.strip(), fraction=float(value)))
        except ValueError:
            raise UsageError(
                f"cannot read split part {item!r}" if sep else f"split part {item!r} has no fraction",
                "write NAME=FRACTION with a slug name and 0 < FRACTION <= 1, e.g. train=0.8",
            ) from None
    return parts


def new_split(
    project: Project,
    task: str,
    name: str,
    parts: list[SplitPart],
    *,
    filter: str = "all",
    seed: int = 0,
    allow_eval_items: bool = False,
    description: str | None = None,
) -> DatasetSplit:
    """Write the split definition `tasks/<task>/splits/<name>.yaml` (refusing to overwrite one)."""
    task = project.task_slug(task)
    if not is_slug(name):
        raise UsageError(f"{name!r} is not a valid split name", "use lowercase letters, digits, '-' and '_'")
    relpath = layout.split_file(task, name)
    if (project.root / relpath).exists():
        raise KilngitError(f"split {name!r} already exists", f"edit {relpath}, or pick another name")
    project.run_filter(task, filter)  # a bad filter fails here, not at materialize time
    try:
        split = DatasetSplit(
            description=description, filter=filter, parts=parts, seed=seed, allow_eval_items=allow_eval_items
        )
    except ValueError as e:
        raise UsageError(
            f"invalid split: {_first_error(e)}", "fractions are > 0 and add up to 1; names unique"
        ) from None
    project.write_definition(relpath, split)
    return split


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    return errors()[0]["msg"] if callable(errors) else str(e)


def definition_hash(split: DatasetSplit) -> str:
    """Hash of what a split's membership depends on (its definition)."""
    return content_id(split.to_data())


def get_split(project: Project, task: str, name: str) -> DatasetSplit:
    """The split definition called `name`, or a NotFoundError naming the known ones."""
    splits = project.splits(task)
    if name not in splits:
        raise NotFoundError(
            f"task {task!r} has no split {name!r}",
            f"{did_you_mean(name, splits)}known splits: {', '.join(splits) or 'none'}; "
            "create one: kilngit split new NAME",
        )
    return splits[name]


def candidates(project: Project, task: str, split: DatasetSplit) -> tuple[list[str], int]:
    """Run IDs the split may hold (its filter, with an output and no error) and how many were left out
    for being in an eval or golden set."""
    ids = [
        s.id
        for s in project.select(task, split.filter)
        if split.all_runs or (s.run.output is not None and s.run.error is None)
    ]
    if split.allow_eval_items:
        return ids, 0
    held_out = eval_items(project, task)
    kept = [i for i in ids if i not in held_out]
    return kept, len(ids) - len(kept)


def eval_items(project: Project, task: str) -> set[str]:
    """IDs of the runs in the eval set or golden set of any eval of the task."""
    out: set[str] = set()
    for ev in project.evals(task).values():
        for text in (ev.eval_set, ev.golden_set):
            out.update(s.id for s in project.select(task, text))
    return out


def hash_order(run_ids: list[str], seed: int) -> list[str]:
    """`run_ids` in the split's deterministic order: by SHA-256 of "<seed>:<id>"."""
    return sorted(run_ids, key=lambda r: hashlib.sha256(f"{seed}:{r}".encode()).hexdigest())


def assign(run_ids: list[str], parts: list[SplitPart], seed: int) -> dict[str, list[str]]:
    """Cut the hash-ordered runs into parts, sizes by largest remainder (they add up to the total)."""
    ordered = hash_order(run_ids, seed)
    n = len(ordered)
    exact = [p.fraction * n for p in parts]
    sizes = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - sizes[i]), i))
    for i in by_remainder[: n - sum(sizes)]:
        sizes[i] += 1
    out, start = {}, 0
    for part, size in zip(parts, sizes, strict=True):
        out[part.name] = sorted(ordered[start : start + size])
        start += size
    return out


def extend(
    existing: dict[str, list[str]], new_ids: list[str], parts: list[SplitPart], seed: int
) -> dict[str, list[str]]:
    """Add runs to the parts without moving any: each new run, in hash order, joins the part furthest below
    its share of the grown total."""
    members = {p.name: list(existing.get(p.name, [])) for p in parts}
    total = sum(len(v) for v in members.values())
    for run_id in hash_order(new_ids, seed):
        total += 1
        # Ties go to the earlier part (max keeps the first of equal keys).
        best = max(parts, key=lambda p: p.fraction * total - len(members[p.name]))
        members[best.name].append(run_id)
    return {k: sorted(v) for k, v in members.items()}


def materialize_split(
    project: Project, task: str | None, name: str, *, extend_new: bool = False, force: bool = False
) -> SplitReport:
    """Freeze the split's membership (first call), or report the frozen one; see the module docstring."""
    task = project.task_slug(task)
    split = get_split(project, task, name)
    ids, excluded = candidates(project, task, split)
    frozen = project.split_membership(task, name)
    dhash = definition_hash(split)
    if frozen is not None and not force:
        if frozen.definition_hash != dhash:
            raise KilngitError(
                f"split {name!r} changed since its membership was frozen",
                "re-split with --force (moves items between parts), or create a new split",
            )
        known = {r for members in frozen.parts.values() for r in members}
        waiting = [i for i in ids if i not in known]
        if not (extend_new and waiting):
            return _report(frozen, False, 0, len(waiting), excluded)
        parts = extend(frozen.parts, waiting, split.parts, split.seed)
        membership = SplitMembership(task=task, split=name, definition_hash=dhash, parts=parts)
        project.write_record(membership)
        return _report(membership, True, len(waiting), 0, excluded)
    if not ids:  # freezing nothing would make every later use of the split silently empty
        held = (
            f"; {excluded} are in an eval or golden set (allow them: allow_eval_items: true)"
            if excluded
            else ""
        )
        raise KilngitError(
            f"split {name!r} would be empty: its filter {split.filter!r} matches no run with an output{held}",
            "fix the filter, or run the task first; nothing was written",
        )
    membership = SplitMembership(
        task=task, split=name, definition_hash=dhash, parts=assign(ids, split.parts, split.seed)
    )
    project.write_record(membership)
    return _report(membership, True, len(ids), 0, excluded)


def show_split(project: Project, task: str | None, name: str) -> SplitReport:
    """The frozen membership of a split and what changed since (never writes)."""
    task = project.task_slug(task)
    split = get_split(project, task, name)
    frozen = project.split_membership(task, name)
    if frozen is None:
        raise NotFoundError(
            f"split {name!r} has not been materialized yet",
            f"freeze its membership: kilngit split materialize {name}",
        )
    ids, excluded = candidates(project, task, split)
    known = {r for members in frozen.parts.values() for r in members}
    report = _report(frozen, False, 0, sum(i not in known for i in ids), excluded)
    return SplitReport(**{**report.__dict__, "stale": frozen.definition_hash != definition_hash(split)})


def _report(
    membership: SplitMembership, created: bool, added: int, waiting: int, excluded: int
) -> SplitReport:
    counts = {part: len(ids) for part, ids in membership.parts.items()}
    return SplitReport(membership, created, added, waiting, excluded, counts=counts)


def part_runs(project: Project, task: str, split_name: str, part: str) -> list[str]:
    """Run IDs of one part of a materialized split (materializing it first if it never was)."""
    membership = project.split_membership(task, split_name)
    if membership is None:
        membership = materialize_split(project, task, split_name).membership
    if part not in membership.parts:
        raise NotFoundError(
            f"split {split_name!r} has no part {part!r}", f"parts: {', '.join(sorted(membership.parts))}"
        )
    return membership.parts[part]
