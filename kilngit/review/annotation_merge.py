"""One person's annotation of one run edited on two machines: how the two versions are merged.

Two people never touch the same annotation file, but one person rating the same run on a laptop and on a
desktop does. The rule (docs/format.md, "Same rater on two machines"): a three-way merge field by field
(each requirement and each tag on its own); a field changed on both sides to different values takes the
value of the side with the **later `rated_at`** (ties go to the greater JSON value, so both machines compute
the same result). The merged annotation's `rated_at` is the later one.

It is applied by the git merge driver `kilngit init` installs (`merge=kilngit-annotation` in
`.gitattributes`) and, in a clone without the driver, by `kilngit validate --fix` on a conflicted file.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from kilngit import _git
from kilngit._child import python_module
from kilngit._io import atomic_write
from kilngit.records import Annotation
from kilngit.records.canonical import to_file_bytes

DRIVER = "kilngit-annotation"
ATTRIBUTE_LINE = f"tasks/*/annotations/** merge={DRIVER}"
_MARKERS = ("<<<<<<< ", "||||||| ", "=======", ">>>>>>> ")
_SCALARS = ("rating", "note", "repaired_output", "kiln_id")


def merge_annotations(base: Annotation | None, ours: Annotation, theirs: Annotation) -> Annotation:
    """The merge of two versions of one rater's annotation of one run (`base`: their common ancestor, None
    when unknown: then every differing field is a conflict)."""
    later_is_theirs = _later(ours, theirs)
    b = base.to_data() if base else {}
    o, t = ours.to_data(), theirs.to_data()

    def pick(bv: Any, ov: Any, tv: Any) -> Any:
        if ov == tv:
            return ov
        if base is not None and ov == bv:
            return tv
        if base is not None and tv == bv:
            return ov
        return tv if later_is_theirs else ov

    out: dict[str, Any] = {k: o[k] for k in ("kind", "v", "task", "run", "rater")}
    for key in _SCALARS:
        out[key] = pick(b.get(key), o.get(key), t.get(key))
    reqs = {}
    for name in sorted(set(o.get("requirements", {})) | set(t.get("requirements", {}))):
        value = pick(
            b.get("requirements", {}).get(name),
            o.get("requirements", {}).get(name),
            t.get("requirements", {}).get(name),
        )
        if value is not None:
            reqs[name] = value
    out["requirements"] = reqs
    added: list[str] = []
    removed: list[str] = []
    for tag in sorted(_tags(o) | _tags(t) | _tags(b)):
        state = pick(_tag_state(b, tag), _tag_state(o, tag), _tag_state(t, tag))
        (added if state == "+" else removed if state == "-" else []).append(tag)
    out["tags_added"], out["tags_removed"] = added, removed
    winner = t if later_is_theirs else o
    out["rated_at"] = max(filter(None, (o.get("rated_at"), t.get("rated_at"))), default=None)
    out["seconds_on_item"] = winner.get("seconds_on_item")
    return Annotation.model_validate({k: v for k, v in out.items() if v is not None})


def _later(ours: Annotation, theirs: Annotation) -> bool:
    """True when `theirs` wins conflicts: later rated_at (a missing one is earliest), ties by content."""
    key_o, key_t = (ours.rated_at or "", ours.to_bytes()), (theirs.rated_at or "", theirs.to_bytes())
    return key_t > key_o


def _tags(data: dict[str, Any]) -> set[str]:
    return set(data.get("tags_added", [])) | set(data.get("tags_removed", []))


def _tag_state(data: dict[str, Any], tag: str) -> str | None:
    return "+" if tag in data.get("tags_added", []) else "-" if tag in data.get("tags_removed", []) else None


def merge_files(base: str | Path, ours: str | Path, theirs: str | Path) -> int:
    """The git merge driver: merge three annotation files and write the result over `ours` (an empty or
    missing `base` means both sides created the file). Returns 0 when merged, 1 (git then reports a conflict and keeps its own markers) when a side is not a valid annotation."""
    try:
        sides = [
            _load_text(Path(p).read_text(encoding="utf-8")) if Path(p).is_file() else None
            for p in (base, ours, theirs)
        ]
    except (OSError, UnicodeDecodeError):
        return 1
    if sides[1] is None or sides[2] is None:
        return 1
    merged = merge_annotations(sides[0] or _nothing(sides[1]), sides[1], sides[2])
    atomic_write(Path(ours), merged.to_bytes())
    return 0


def _nothing(like: Annotation) -> Annotation:
    """The common ancestor when both sides created the file: an annotation that says nothing."""
    return Annotation(task=like.task, run=like.run, rater=like.rater)


def _load_text(text: str) -> Annotation | None:
    try:
        return Annotation.model_validate(json.loads(text))
    except ValueError:  # JSON or validation error: not usable as a side
        return None


def has_conflict_markers(text: str) -> bool:
    """True when a file still holds git's conflict markers."""
    return any(line.startswith("<<<<<<< ") for line in text.splitlines())


def split_conflict(text: str) -> tuple[str | None, str, str]:
    """(base, ours, theirs) texts of a file with git conflict markers; base is None unless the markers are
    in diff3 style (`|||||||` sections)."""
    ours: list[str] = []
    theirs: list[str] = []
    base: list[str] = []
    saw_base = False
    where = "both"
    for line in text.splitlines(keepends=True):
        if line.startswith(_MARKERS[0]):
            where = "ours"
        elif line.startswith(_MARKERS[1]) and where == "ours":
            where, saw_base = "base", True
        elif line.rstrip("\r\n") == _MARKERS[2] and where in ("ours", "base"):
            where = "theirs"
        elif line.startswith(_MARKERS[3]) and where == "theirs":
            where = "both"
        else:
            for side, name in ((ours, "ours"), (theirs, "theirs"), (base, "base")):
                if where in (name, "both"):
                    side.append(line)
    return ("".join(base) if saw_base else None), "".join(ours), "".join(theirs)


def resolve_conflict(root: Path, relpath: str) -> Annotation | None:
    """Resolve a conflicted annotation file in place by the merge rule; None when it cannot be (a side is not
    a valid annotation). Uses git's three index stages while the merge is in progress (a true three-way
    merge), else the conflict markers in the file."""
    stages = {}
    for stage in (1, 2, 3):
        result = _git.git_result(root, "show", f":{stage}:{relpath}")
        if result.ok:
            stages[stage] = result.stdout
    if 2 in stages and 3 in stages:
        base_text, ours_text, theirs_text = stages.get(1), stages[2], stages[3]
    else:
        base_text, ours_text, theirs_text = split_conflict((root / relpath).read_text(encoding="utf-8"))
    ours, theirs = _load_text(ours_text), _load_text(theirs_text)
    if ours is None or theirs is None:
        return None
    base = _load_text(base_text) if base_text else None
    if base is None and 2 in stages and 3 in stages:  # no stage 1: both sides created the file
        base = _nothing(ours)
    merged = merge_annotations(base, ours, theirs)
    atomic_write(root / relpath, to_file_bytes(merged.to_data()))
    return merged


def install_driver(root: Path) -> bool:
    """Register the merge driver in this clone's git config and `.gitattributes` (git config is not cloned,
    so each clone needs this once; `kilngit init` and `kilngit validate --fix` do it). False outside git."""
    if _git.repo_root(root) is None:
        return False
    # Isolated (`python -I`): git runs the driver from the repository's top folder, whose files must not
    # shadow modules (a pushed `struct.py` would otherwise run inside the merge).
    command = " ".join(shlex.quote(a) for a in python_module("kilngit", "merge-annotation")) + " %O %A %B"
    if _git.run_git(root, "config", "--get", f"merge.{DRIVER}.driver", check=False) != command:
        _git.run_git(root, "config", f"merge.{DRIVER}.name", "kilngit annotation merge (later rated_at wins)")
        _git.run_git(root, "config", f"merge.{DRIVER}.driver", command)
    attributes = root / ".gitattributes"
    existing = attributes.read_text(encoding="utf-8") if attributes.exists() else ""
    if ATTRIBUTE_LINE not in existing.splitlines():
        sep = "" if not existing or existing.endswith("\n") else "\n"
        atomic_write(attributes, (existing + sep + ATTRIBUTE_LINE + "\n").encode())
    return True
