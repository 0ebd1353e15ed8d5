"""Internal: atomic file writes, guarded reads, and YAML that keeps the user's comments.

Every write goes through `atomic_write`: temp file in the same folder, fsync, rename, so a crash leaves
either the old bytes or the new ones, never a torn file, and an unchanged file is not touched at all. The
temp files a killed writer leaves are swept by the next writer in that folder (`kilngit._temps`).
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent

from kilngit._temps import sweep_once, temp_name

_FILE_MODE = 0o666  # less the umask, like any file people create: records are shared, not private

MAX_YAML_BYTES = 1 << 20  # 1 MiB: definitions are small; anything bigger is a mistake or an attack
MAX_JSON_BYTES = 32 << 20  # 32 MiB: a run can hold a long output, not a data set


class ReadError(Exception):
    """A file could not be read as text (too big, not UTF-8, a symlink out of the project...)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def atomic_write(path: str | Path, data: bytes, durable: bool = True, sync_folder: bool = True) -> bool:
    """Write `data` to `path` atomically; return False (and touch nothing) when the bytes are already there.

    `durable=False` skips the fsyncs (the rename stays atomic for other processes): for bulk writers that
    call `os.sync()` once at the end instead of paying one disk flush per file. `sync_folder=False` keeps the
    file's fsync but leaves the folder's (which makes the rename itself durable) to the caller, who can then
    sync each folder once for a batch of files (`fsync_folder`)."""
    target = os.fspath(path)
    try:
        if os.stat(target).st_size == len(data) and _read(target) == data:
            return False
    except FileNotFoundError:
        pass
    # Plain descriptors, not a file object: this runs once per record, and each saved syscall shows up
    # in the throughput of a batch. O_EXCL on a random name is what `mkstemp` does.
    folder, name = os.path.split(target)
    sweep_once(folder)
    tmp = temp_name(folder, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, _FILE_MODE)
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, flags, _FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable and sync_folder:
        fsync_folder(folder)
    return True


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def fsync_folder(folder: str | Path) -> None:
    """Make the renames done in `folder` durable (best effort: some file systems refuse folder fsyncs)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_bytes_checked(path: str, root: str, max_bytes: int) -> bytes:
    """Read a record file, refusing symlinks that leave the project and files over `max_bytes`.

    Takes plain strings: this runs once per record, a million times on a large project."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if os.path.commonpath([target, os.path.realpath(root)]) != os.path.realpath(root):
                raise ReadError(f"symlink points outside the project (to {target})",
                                "replace the symlink with a regular file inside the project")
            st = os.stat(path)
    except FileNotFoundError as e:
        raise ReadError("file does not exist (a dangling symlink?)", "remove it or restore its target") from e
    if st.st_size > max_bytes:
        raise ReadError(f"file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for this kind of file",
                        "split the content or move bulk data out of the record")
    with open(path, "rb") as f:
        return f.read()


def decode_utf8(data: bytes) -> str:
    """Decode record bytes as UTF-8, with a message that says where the bad byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReadError(f"not UTF-8 text (bad byte at offset {e.start})", "re-save the file as UTF-8") from e


def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _round_trip_yaml() -> YAML:
    y = YAML()  # round-trip: keeps comments, key order and quoting
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 110
    y.preserve_quotes = True
    return y


def load_yaml(text: str) -> Any:
    """Parse YAML safely. Anchors and aliases are refused: kilngit files never need them, and they are how
    "billion laughs" bombs blow up memory."""
    try:
        for event in _safe_yaml().parse(io.StringIO(text)):
            if isinstance(event, AliasEvent):
                raise ReadError("YAML aliases (*name) are not allowed in kilngit files",
                                "write the value out instead of referring to an anchor")
        return _safe_yaml().load(text)
    except YAMLError as e:
        raise ReadError(f"invalid YAML: {_one_line(str(e))}", "fix the YAML syntax at the position shown") from e


def _one_line(text: str) -> str:
    return " ".join(text.split())


def dump_yaml(data: dict[str, Any], header: str | None = None, existing: str | None = None) -> bytes:
    """YAML text for `data`. When `existing` text is given, edit it in place so the user's comments, key
    order and formatting survive; keys not in `data` are removed."""
    y = _round_trip_yaml()
    if existing is not None:
        doc = y.load(existing)
        if isinstance(doc, CommentedMap):
            _merge(doc, data)
            return _dump(y, doc, None)
    return _dump(y, data, header)


def _merge(doc: CommentedMap, data: dict[str, Any]) -> None:
    for key in [k for k in doc if k not in data]:
        del doc[key]
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(doc.get(key), CommentedMap):
            _merge(doc[key], value)
        elif doc.get(key) != value:
            doc[key] = value


def _dump(y: YAML, doc: Any, header: str | None) -> bytes:
    buf = io.StringIO()
    if header:
        buf.write(header.rstrip("\n") + "\n")
    y.dump(doc, buf)
    return buf.getvalue().encode()
