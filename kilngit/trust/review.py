"""What is new since this machine last trusted a project, and recording trust.

An item is trusted when its content hash is the one recorded. Besides that, an item edited here counts as
this machine's own work and is trusted (and recorded): its file differs from the committed version, that
committed version was trusted (or there is none), and no merge, rebase or cherry-pick is bringing in someone
else's changes. Everything that arrives through git (clone, pull, checkout of a branch) is committed content,
so it waits for `kilngit trust`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from kilngit._git import git_result, run_git
from kilngit.errors import KilngitError
from kilngit.trust.items import trust_items
from kilngit.trust.store import load_trusted, save_trusted

ENV = "KILNGIT_TRUST"
_BUSY = ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD", "REVERT_HEAD")


class UntrustedError(KilngitError):
    """Project code or jobs that this machine has not trusted yet."""


@dataclass(frozen=True)
class Item:
    path: str
    kind: str
    sha: str
    new: bool
    """Never trusted before (else: changed since it was trusted)."""


@dataclass
class Review:
    root: Path
    untrusted: list[Item] = field(default_factory=list)
    current: dict[str, tuple[str, str]] = field(default_factory=dict)
    trusted_commit: str | None = None

    def lines(self, limit: int = 0) -> list[str]:
        shown = self.untrusted[:limit] if limit else self.untrusted
        out = [f"  {'new' if i.new else 'changed'} {i.kind}: {i.path}" for i in shown]
        if len(shown) < len(self.untrusted):
            out.append(f"  ... and {len(self.untrusted) - len(shown)} more")
        return out


def review(root: Path) -> Review:
    """What in the project at `root` is not trusted on this machine (recording this machine's own edits)."""
    root = Path(root)
    kinds = trust_items(root)
    current = dict(zip(kinds, zip(kinds.values(), _blob_ids(root, list(kinds)), strict=True), strict=True))
    trusted, commit = load_trusted(root)
    result = Review(root, current=current, trusted_commit=commit)
    if os.environ.get(ENV) == "always":
        return result
    pending = {p: v for p, v in current.items() if trusted.get(p) != v[1]}
    if not pending:
        return result
    mine = _edited_here(root, pending, trusted)
    if mine:
        save_trusted(root, {**trusted, **{p: current[p][1] for p in mine}}, commit)
    result.untrusted = [
        Item(p, kind, sha, p not in trusted) for p, (kind, sha) in pending.items() if p not in mine
    ]
    return result


def trust(result: Review) -> Path:
    """Trust everything the project holds now; returns the record's path."""
    head = git_result(result.root, "rev-parse", "--verify", "-q", "HEAD")
    return save_trusted(
        result.root,
        {p: sha for p, (_kind, sha) in result.current.items()},
        head.stdout.strip() if head.ok else None,
    )


def require_trusted(root: Path, what: str, kinds: tuple[str, ...] = ("code", "code judge")) -> None:
    """Raise `UntrustedError` naming what to review when items of `kinds` are not trusted here."""
    found = review(root)
    found.untrusted = [i for i in found.untrusted if i.kind in kinds]
    if found.untrusted:
        raise UntrustedError(
            "\n".join(
                [
                    f"not running {what}: this machine has not trusted this project's "
                    f"code yet ({len(found.untrusted)} item(s) new or changed):",
                    *found.lines(limit=8),
                ]
            ),
            hint=f"review and trust them: kilngit -C {root} trust",
        )


def diff(result: Review) -> str:
    """The changes since the last trusted commit for the untrusted items (git diff), or '' when unknown."""
    if not result.trusted_commit or not result.untrusted:
        return ""
    done = git_result(
        result.root, "diff", "--no-color", result.trusted_commit, "--", *[i.path for i in result.untrusted]
    )
    return done.stdout if done.ok else ""


def _blob_ids(root: Path, paths: list[str]) -> list[str]:
    """The git blob id of each file's bytes as they are (the content hash trust is keyed by); a symlink's is
    that of its target's name, as git stores it."""
    links = {p: _link_blob(root / p) for p in paths if (root / p).is_symlink()}
    files = [p for p in paths if p not in links]
    absolute = [str((root / p).absolute()) for p in files]  # git reads --stdin-paths from the top level
    ids = (
        run_git(
            root, "hash-object", "--no-filters", "--stdin-paths", input="\n".join(absolute) + "\n"
        ).split()
        if files
        else []
    )
    if len(ids) != len(files):
        raise UntrustedError(f"cannot hash the project's code files in {root}", hint="check `git status`")
    hashed = dict(zip(files, ids, strict=True)) | links
    return [hashed[p] for p in paths]


def _link_blob(path: Path) -> str:
    target = os.fsencode(os.readlink(path))
    return hashlib.sha1(b"blob %d\0" % len(target) + target).hexdigest()


def _committed(root: Path, paths: list[str]) -> dict[str, str]:
    """path -> blob id in HEAD, for those of `paths` that HEAD has."""
    listed = git_result(root, "ls-tree", "-z", "HEAD", "--", *paths)
    found = {}
    for entry in listed.stdout.split("\0") if listed.ok else []:
        if "\t" in entry:  # "MODE blob ID\tPATH", the path relative to the project root (git's cwd)
            meta, path = entry.split("\t", 1)
            found[path] = meta.split()[2]
    return found


def _edited_here(root: Path, pending: dict[str, tuple[str, str]], trusted: dict[str, str]) -> set[str]:
    top = git_result(root, "rev-parse", "--git-dir")
    if not top.ok:
        return set()
    git_dir = (root / top.stdout.strip()).resolve()
    if any((git_dir / name).exists() for name in _BUSY):
        return set()
    head = _committed(root, list(pending))
    return {
        path
        for path, (_kind, blob) in pending.items()
        if head.get(path) != blob and (path not in head or trusted.get(path) == head[path])
    }
