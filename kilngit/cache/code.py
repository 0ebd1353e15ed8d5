"""Which of kilngit's own code a cached answer depends on.

Every cache -- a file's facts and problems (`store`), the clean `validate` report (`warm`), the views' rows
(`run_rows`) and scoreboards (`evals.board_view`) -- is stamped with a digest of the modules that compute
it, so an answer computed by another kilngit version, or by an edited checkout, is never reused. The record
models (`records/`) are in every digest: every answer starts from them.

Only the standard library here: the clean `validate` computes its digest before anything else is imported.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

#: The modules that read and check records: what a file's facts and problems depend on.
CHECKS = (
    "load.py",
    "_io.py",
    "_nofollow.py",
    "cache/parsed_yaml.py",
    "kinds.py",
    "kind_checks.py",
    "layout.py",
    "problems.py",
    "validate.py",
    "filters.py",
    "ratings.py",
    "references.py",
    "cache/facts.py",
    "cache/index.py",
    "cache/snapshot.py",
)


def code_digest(salt: str, names: Iterable[str]) -> hashlib._Hash:
    """A running sha256 of `salt`, then each module of `names` and of `records/` (name and bytes; a module
    that cannot be read counts as "?"). A caller may add more (e.g. a task's definitions) before digesting."""
    h = hashlib.sha256(salt.encode())
    records = sorted(f"records/{n}" for n in os.listdir(PACKAGE / "records") if n.endswith(".py"))
    for name in [*names, *records]:
        try:
            data = (PACKAGE / name).read_bytes()
        except OSError:
            data = b"?"
        h.update(name.encode() + b"\0" + data + b"\0")
    return h
