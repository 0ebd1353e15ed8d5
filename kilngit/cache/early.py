"""Start `git status` before a command imports its code, so the two overlap.

    with early.git_first(folder):        # first thing: stdlib and `cache.index` only
        ...                              # imports, the definitions read
        early.while_git_runs(root, steps)  # what git's answer will need, done only while git still runs
        ...                              # the first `index.sync(root)` takes git's answer

A warm command after an edit spends most of its time in git's answer and in importing its code (pydantic,
the record models); started in that order they take the longer of the two instead of the sum.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from kilngit.cache import index


def project_root(folder: str | Path) -> Path | None:
    """The folder `Project.find(folder)` will find (the nearest one holding the manifest), found without
    importing it; None when there is none (the command then reports it as usual)."""
    here = Path(os.path.abspath(folder))
    for candidate in (here, *here.parents):
        if (candidate / index.MANIFEST).is_file():
            return candidate
    return None


def prefetch_project(folder: str | Path) -> None:
    """`index.prefetch` for the project `folder` is in (nothing outside one, or outside `index.one_sync`)."""
    root = project_root(folder)
    if root is not None:
        index.prefetch(root)


@contextlib.contextmanager
def git_first(folder: str | Path) -> Iterator[None]:
    """`index.one_sync`, with git asked about the project `folder` is in at once (`prefetch_project`)."""
    with index.one_sync():
        prefetch_project(folder)
        yield


def while_git_runs(root: Path, steps: Iterable[Callable[[], object]]) -> None:
    """Do `steps` in order until the prefetched answer for `root` is ready (each one git's answer may
    need next, e.g. building a record model's validator: done meanwhile it costs no time)."""
    for step in steps:
        if index.ready(root):
            return
        step()
