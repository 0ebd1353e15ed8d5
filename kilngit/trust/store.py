"""This machine's record of what it trusts, outside every repository (like direnv's `allow`):
`$XDG_DATA_HOME/kilngit/trust/<hash of the project folder>.json` (default `~/.local/share/...`), holding the
content hash of each trusted item and the commit checked out when it was trusted. A pushed file can never
trust itself: the record is not in the repository."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from kilngit._io import atomic_write


def store_dir() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "kilngit" / "trust"


def store_file(root: Path) -> Path:
    return store_dir() / (hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:32] + ".json")


def load_trusted(root: Path) -> tuple[dict[str, str], str | None]:
    """(path -> trusted sha256, commit trusted last) for the project at `root`; empty when never trusted."""
    try:
        data = json.loads(store_file(root).read_bytes())
    except (OSError, ValueError):
        return {}, None
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, dict):
        return {}, None
    return {str(k): str(v) for k, v in items.items()}, data.get("commit")


def save_trusted(root: Path, items: dict[str, str], commit: str | None) -> Path:
    path = store_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "root": str(Path(root).resolve()),
        "commit": commit,
        "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "items": dict(sorted(items.items())),
    }
    atomic_write(path, (json.dumps(data, indent=1) + "\n").encode())
    return path
