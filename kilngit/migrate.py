"""`kilngit migrate`: move a project of an older folder layout to the one this kilngit writes
(`kinds.LAYOUT`), keeping every record's bytes and ID; only paths change.

Four steps, each safe to repeat, so a kill at any moment leaves a project the next run completes:

1. every record file at a path of an older layout is renamed to its current path (one atomic `rename` each;
   a copy already at the new path with the same bytes only loses its old twin);
2. the git index follows in one `git update-index --index-info` (git writes the index whole or not at all):
   each entry moves to the new path with the blob it had staged, which is what `git mv` does, so the commit
   shows renames and `git log --follow` keeps the history;
3. folders the moves emptied are removed;
4. last, `layout` in kilngit.yaml is set (and staged when the manifest is tracked). Until then every other
   command still reads the project in its older layout and refuses to write.

A run that finds nothing to move changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from kilngit import _git, layout
from kilngit._io import atomic_write, dump_yaml, load_yaml
from kilngit.errors import KilngitError
from kilngit.kinds import KINDS, LAYOUT
from kilngit.project import Project, definition_data, schema_header

__all__ = ["MigrationReport", "migrate"]


@dataclass
class MigrationReport:
    """What `migrate` did."""

    before: int
    """The layout the manifest declared."""
    after: int = LAYOUT
    moved: int = 0
    """Files renamed on disk."""
    twins: int = 0
    """Old copies removed because the same bytes were already at the new path."""
    index_moved: int = 0
    """Git index entries moved to their new paths."""
    manifest: bool = False
    """True when this run wrote the new layout into kilngit.yaml."""
    seconds: float = 0.0
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.moved or self.twins or self.index_moved or self.manifest)

    def to_dict(self) -> dict[str, object]:
        return {
            "before": self.before,
            "after": self.after,
            "moved": self.moved,
            "twins": self.twins,
            "index_moved": self.index_moved,
            "manifest": self.manifest,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }


def migrate(project: Project) -> MigrationReport:
    """Move every record file of `project` to the current layout and record it in kilngit.yaml.

    Refuses (before touching anything) a layout newer than this kilngit knows and a git index with unmerged
    entries; stops before step 4 when an old file and the file at its new path differ."""
    start = time.perf_counter()
    root = project.root
    manifest = project.manifest  # an unreadable manifest raises here, before anything moves
    layout.check_layout(manifest.layout, writing=False)
    report = MigrationReport(manifest.layout)
    repo = _git.repo_root(root)
    entries = _index_entries(root, repo) if repo is not None else []
    _move_files(project, report)
    if repo is not None:
        report.index_moved = _move_index(root, repo, entries)
    if report.conflicts:
        shown = "\n".join(f"  {p}" for p in report.conflicts[:10])
        raise KilngitError(
            f"{len(report.conflicts)} file(s) exist at both their old and new path with different content "
            f"(nothing else was changed for them):\n{shown}",
            "keep one copy of each (e.g. `git rm` the old one), then run `kilngit migrate` again",
        )
    if manifest.layout != LAYOUT:
        _write_manifest(project)
        report.manifest = True
    if repo is not None:
        _stage_manifest(root)
    report.seconds = time.perf_counter() - start
    return report


def _old_location(relpath: str) -> str | None:
    """The current path of a file at an older layout's path, or None when `relpath` is not one."""
    for kind in KINDS.values():
        for pattern in kind.older_patterns.values():
            m = pattern.fullmatch(relpath)
            if m is not None and not kind.pattern.fullmatch(relpath):
                return kind.fill(m.groupdict())
    return None


def _move_files(project: Project, report: MigrationReport) -> None:
    root = project.root
    emptied: set[Path] = set()
    for kind in KINDS.values():
        for version in kind.older:
            for relpath in project.candidates(kind, {}, version):
                new = _old_location(relpath)
                if new is None:
                    continue
                old_path, new_path = root / relpath, root / new
                if new_path.exists():
                    if new_path.read_bytes() != old_path.read_bytes():
                        report.conflicts.append(relpath)
                        continue
                    old_path.unlink()
                    report.twins += 1
                else:
                    new_path.parent.mkdir(parents=True, exist_ok=True)
                    _rename(old_path, new_path)
                    report.moved += 1
                emptied.add(old_path.parent)
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when the moves left it empty


def _rename(old: Path, new: Path) -> None:
    os.rename(old, new)


def _index_entries(root: Path, repo: Path) -> list[tuple[str, str, str, str]]:
    """(mode, blob, stage, path from the repository top) of the index entries under the project."""
    out = _git.run_git(root, "ls-files", "--stage", "--full-name", "-z", "--", ".")
    entries = []
    for item in out.split("\0"):
        if item:
            meta, path = item.split("\t", 1)
            mode, blob, stage = meta.split(" ")
            entries.append((mode, blob, stage, path))
    if any(stage != "0" for _, _, stage, _ in entries):
        raise KilngitError(
            "the git index has unmerged paths (a merge or rebase is in progress)",
            "finish or abort it (git merge --continue / --abort), then run `kilngit migrate`",
        )
    return entries


def _move_index(root: Path, repo: Path, entries: list[tuple[str, str, str, str]]) -> int:
    """Move the index entries of files now at their new paths (done on disk); returns how many."""
    prefix = root.relative_to(repo).as_posix() if root != repo else ""
    prefix = f"{prefix}/" if prefix else ""
    present = {path for _, _, _, path in entries}
    lines = []
    for mode, blob, _, path in entries:
        new = _old_location(path[len(prefix) :])
        if new is None or (root / path[len(prefix) :]).exists():
            continue  # not an old path, or its file is still there (a conflict): leave the entry alone
        lines.append(f"0 {'0' * 40}\t{path}")
        if prefix + new not in present:
            lines.append(f"{mode} {blob}\t{prefix}{new}")
    if lines:
        _update_index(repo, "\n".join(lines) + "\n")
    return sum(1 for line in lines if line.startswith("0 "))


def _update_index(repo: Path, info: str) -> None:
    _git.run_git_waiting(repo, "update-index", "--index-info", input=info)


def _write_manifest(project: Project) -> None:
    path = project.root / layout.MANIFEST
    existing = path.read_text(encoding="utf-8")
    updated = project.manifest.model_copy(update={"layout": LAYOUT})
    atomic_write(
        path, dump_yaml(definition_data(updated), schema_header("project", layout.MANIFEST), existing)
    )


def _stage_manifest(root: Path) -> None:
    """Stage kilngit.yaml when it is tracked and only the index still has the older layout (also finishing a
    run killed between writing the manifest and staging it)."""
    staged = _git.git_result(root, "show", f":./{layout.MANIFEST}")
    if not staged.ok:
        return  # not tracked: the user adds it with the rest
    data = load_yaml(staged.stdout)
    version = data.get("layout", 1) if isinstance(data, dict) else 1
    if isinstance(version, int) and version < LAYOUT:
        _git.run_git_waiting(root, "add", "--", layout.MANIFEST)
