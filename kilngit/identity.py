"""Who is acting: the rater or author recorded in human-made records."""

from __future__ import annotations

import os
from pathlib import Path

from kilngit import _git, layout
from kilngit.errors import KilngitError, UsageError


def current_person(root: str | Path, explicit: str | None = None) -> str:
    """`explicit` (e.g. `--as`), else $KILNGIT_AS, else git's `user.email`; an error when none is set."""
    for candidate in (explicit, os.environ.get("KILNGIT_AS")):
        if candidate and candidate.strip():
            return _checked(candidate.strip())
    email = _git.run_git(root, "config", "user.email", check=False).strip()
    if email:
        return _checked(email)
    raise KilngitError(
        "cannot tell who you are: no --as given and git has no user.email",
        "pass --as you@example.com, or run: git config --global user.email you@example.com",
    )


def _checked(person: str) -> str:
    """A name that maps to its own annotation folder (see `layout.rater_dir`), without control characters."""
    if any(ord(c) < 32 or ord(c) == 127 for c in person):
        raise UsageError(
            f"person name {person!r} holds control characters", "give a plain name or email address"
        )
    try:
        layout.rater_dir(person)
    except ValueError as e:
        raise UsageError(str(e), "give a shorter name, e.g. your email address") from None
    return person
