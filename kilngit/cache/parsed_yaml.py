"""The definitions' parsed YAML, kept by the files' bytes, so a warm command skips the YAML reader.

A warm `status` or `eval scores` reads every definition (manifest, task, prompts, run configs, evals,
judges); `_io.load_yaml` is pure-Python ruamel.yaml, which costs ~25 ms CPU to import and a few ms per
file, all before git's answer is used. Here a file's parsed data is kept under the sha256 of its bytes:

- The same bytes always parse to the same data, so nothing depends on a file's stat: an edit within the
  same second that keeps the size is simply other bytes, another key.
- Only a successful parse into plain data is kept (mappings with string keys, lists, strings, ints, floats,
  bools, None: what `json.loads` gives back exactly). An error, a date, a set, a non-string key or an int
  too long for JSON is parsed afresh each time, through the same `load_yaml`.
- Each hit is a fresh `json.loads`, so a caller may change what it gets.
- The file (`.kilngit/cache/yaml.json`) is stamped with the code that parses (`_io.py`, ruamel.yaml's
  version file) and the project's real root: another kilngit, ruamel or folder (a copy) starts empty. A
  symlinked cache folder, an unreadable or corrupt file is not used. `KILNGIT_NO_CACHE=1` parses every file.
- It is written only into an existing `.kilngit/cache/` (made by the other caches, e.g. `validate`'s), so
  merely reading a project leaves nothing behind.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from kilngit._io import ReadError, check_no_symlinks, load_yaml
from kilngit._temps import temp_name

FILE = ".kilngit/cache/yaml.json"
_KEEP = 1000  # entries kept (the newest): a few per definition ever edited is plenty
_SCALARS = (str, int, float, bool, type(None))

_loaded: dict[str, dict[str, str]] = {}  # real root -> {sha256 of the bytes: the data as JSON text}


def load(root: Path, raw: bytes, text: str) -> Any:
    """`load_yaml(text)`, `text` being the file's bytes `raw` decoded, from the cache when these bytes
    were parsed before in the project at `root`."""
    if os.environ.get("KILNGIT_NO_CACHE"):
        return load_yaml(text)
    real = os.path.realpath(root)
    entries = _loaded.get(real)
    if entries is None:
        entries = _loaded[real] = _read(real)
    key = hashlib.sha256(raw).hexdigest()
    kept = entries.get(key)
    if kept is not None:
        return json.loads(kept)
    data = load_yaml(text)  # a ReadError goes to the caller, as without the cache
    if plain(data):
        try:
            entries[key] = json.dumps(data, ensure_ascii=False, allow_nan=False)
        except ValueError:  # an int of more than 4,300 digits
            return data
        _write(real, entries)
    return data


def plain(data: Any, depth: int = 0) -> bool:
    """Whether `data` is made only of what `json.loads` gives back as it is (exact types, string keys)."""
    kind = type(data)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(plain(v, depth + 1) for v in data)
    if kind is dict:
        return all(type(k) is str and plain(v, depth + 1) for k, v in data.items())
    return False


@functools.cache
def _stamp(real: str) -> str:
    """The code that parses (`_io.py`, ruamel.yaml's version file) and the root, as one string (read once
    per process: the code this process parses with is the code it imported)."""
    h = hashlib.sha256(real.encode() + b"\0")
    spec = importlib.util.find_spec("ruamel.yaml")  # looked up, not imported (what this module spares)
    for path in (Path(__file__).resolve().parent.parent / "_io.py", spec.origin if spec else None):
        try:
            h.update(Path(path).read_bytes() if path else b"?")
        except OSError:
            h.update(b"?")
        h.update(b"\0")
    return h.hexdigest()


def _usable(real: str) -> bool:
    try:
        check_no_symlinks(real, FILE)  # a committed `.kilngit/` may point anywhere
    except ReadError:
        return False
    return True


def _read(real: str) -> dict[str, str]:
    if not _usable(real):
        return {}
    try:
        with open(os.path.join(real, FILE), "rb") as f:
            stored = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict) or stored.get("stamp") != _stamp(real):
        return {}
    entries = stored.get("entries")
    if not isinstance(entries, dict) or not all(type(v) is str for v in entries.values()):
        return {}
    return entries


def _write(real: str, entries: dict[str, str]) -> None:
    """Replace the file at once (temp file + rename; no fsync: a lost cache is only slower). Not through
    `_io.atomic_write`, whose count of writes makes `index.one_sync` ask git again: this file is no
    project file. Two commands writing at once: the last one wins, the other's entry is parsed again."""
    if not _usable(real):
        return
    for key in list(entries)[: max(0, len(entries) - _KEEP)]:
        del entries[key]
    path = os.path.join(real, FILE)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return  # no other cache lives here (a project only read, never checked): leave no trace
    tmp = temp_name(folder, os.path.basename(path))
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump({"stamp": _stamp(real), "entries": entries}, f)
        os.replace(tmp, path)
    except OSError:
        pass  # read-only disk, a full one: run uncached
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
