"""Who is acting: the rater or author recorded in human-made records."""

from __future__ import annotations

import os
from pathlib import Path

from kilngit import _git
from kilngit.errors import KilngitError


def current_person(root: str | Path, explicit: str | None = None) -> str:
    """`explicit` (e.g. `--as`), else $KILNGIT_AS, else git's `user.email`; an error when none is set."""
    for candidate in (explicit, os.environ.get("KILNGIT_AS")):
        if candidate and candidate.strip():
            return candidate.strip()
    email = _git.run_git(root, "config", "user.email", check=False).strip()
    if email:
        return email
    raise KilngitError("cannot tell who you are: no --as given and git has no user.email",
                       "pass --as you@example.com, or run: git config --global user.email you@example.com")
