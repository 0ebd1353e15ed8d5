"""Internal: atomic file writes, guarded reads, and YAML that keeps the user's comments.

Every write goes through `atomic_write`: temp file in the same folder, fsync, rename, so a crash leaves
either the old bytes or the new ones, never a torn file, and an unchanged file is not touched at all. The
temp files a killed writer leaves are swept by the next writer in that folder (`kilngit._temps`).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit._nofollow import FLAGS as NOFOLLOW_FLAGS
from kilngit._nofollow import open_no_symlinks
from kilngit._temps import sweep_once, temp_name

if TYPE_CHECKING:
    from ruamel.yaml import YAML

# ruamel.yaml (~25 ms to import) is imported by the YAML functions themselves: a warm command takes the
# definitions' parsed data from `cache.parsed_yaml` and may never need it.

_FILE_MODE = 0o666  # less the umask, like any file people create: records are shared, not private

MAX_YAML_BYTES = 1 << 20  # 1 MiB: definitions are small; anything bigger is a mistake or an attack
MAX_JSON_BYTES = 32 << 20  # 32 MiB: a run can hold a long output, not a data set
MAX_DEPTH = 100  # nesting: a JSON Schema for structured output needs a few dozen levels at most

writes = 0
"""How many files `atomic_write` changed in this process: `cache.index.one_sync` asks git again after one."""


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
    global writes
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
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        writes += 1  # before the rename: a failed one counts too (asking git again is always safe)
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


_ROOTS: dict[str, str] = {}
"""Project root as given -> its real path (the root itself may sit behind a symlink; nothing inside may)."""

_SYMLINK_FIX = (
    "replace the symlink with the real file or folder (kilngit never follows symlinks inside a project: "
    "they can point outside it)"
)


def _real_root(root: str) -> str:
    if root not in _ROOTS:
        _ROOTS[root] = os.path.realpath(root)
    return _ROOTS[root]


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file or folder"


def read_bytes_checked(path: str, root: str, max_bytes: int) -> bytes:
    """Read a record file: a regular file inside the project, reached through no symlink, at most `max_bytes`.

    Folders, FIFOs, sockets and devices are refused without reading (a FIFO is opened non-blocking, so it
    cannot hang the reader). Takes plain strings: this runs once per record, a million times on a large project."""
    return read_bytes_and_stat(path, root, max_bytes)[0]


def read_bytes_and_stat(path: str, root: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """`read_bytes_checked`, also returning the file's `fstat` (what the bytes read were, for the cache)."""
    # Where the kernel can open it with no symlink (nor `.`, `..`) anywhere on its path (a bulk read on
    # Linux), its real path is `path` itself, which is what the check below asks when the root is its own
    # real path; otherwise it is opened and then checked.
    fd = open_no_symlinks(path) if path.startswith(root + os.sep) and _real_root(root) == root else None
    checked = fd is not None
    try:
        if fd is None:
            fd = os.open(path, NOFOLLOW_FLAGS)
    except FileNotFoundError as e:
        raise ReadError("file does not exist (a dangling symlink?)", "remove it or restore its target") from e
    except OSError as e:
        if os.path.islink(path):
            raise ReadError(f"is a symlink (to {os.readlink(path)})", _SYMLINK_FIX) from e
        raise ReadError(f"cannot be read: {e.strerror}", "check the file's permissions") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(
                f"is {_what(st.st_mode)}, where a record file belongs",
                "remove it, or put the record file there instead",
            )
        if not checked:
            _check_real_path(fd, path, root)
        if st.st_size > max_bytes:
            raise ReadError(
                f"file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit for this kind of file",
                "split the content or move bulk data out of the record",
            )
        # The first read asks for one byte more than fstat's size (the file as it was: one read, and a
        # buffer of its size: a 1 MiB buffer cost ~18 us per small file to allocate and shrink), then 1 MiB
        # at a time while it keeps coming (it grew meanwhile).
        chunks, left, ask = [], max_bytes + 1, st.st_size + 1
        while left and (chunk := os.read(fd, min(left, ask))):
            chunks.append(chunk)
            left -= len(chunk)
            if len(chunk) == st.st_size and len(chunks) == 1 and left:
                break  # the whole file, as big as fstat said: no read more to find its end
            ask = 1 << 20
        if not left:
            raise ReadError(
                f"file grew over the {max_bytes:,}-byte limit while being read",
                "split the content or move bulk data out of the record",
            )
        return b"".join(chunks), st
    finally:
        os.close(fd)


def _check_real_path(fd: int, path: str, root: str) -> None:
    """Refuse a file reached through a symlinked folder (a symlinked shard, task or rater folder)."""
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc (macOS): check each folder on the way
        check_no_symlinks(root, os.path.relpath(path, root))
        return
    # `path` is nearly always root + "/" + relpath: slicing is much cheaper than `os.path.relpath`
    inside = path[len(root) + 1 :] if path.startswith(root + os.sep) else os.path.relpath(path, root)
    want = os.path.join(_real_root(root), inside)
    if real != want:
        check_no_symlinks(root, os.path.relpath(path, root))
        raise ReadError(f"is reached through a symlink (it is really {real})", _SYMLINK_FIX)


def check_no_symlinks(root: str | Path, relpath: str) -> None:
    """Raise `ReadError` when a folder or file on the way from `root` to `relpath` is a symlink or is not
    what it should be, or when `relpath` leaves the project: checked before every write into a project."""
    parts = Path(relpath).parts
    if Path(relpath).is_absolute() or ".." in parts:
        raise ReadError(
            f"{relpath} is not a path inside the project", "use a path relative to the project root"
        )
    here = os.fspath(root)
    for i, part in enumerate(parts):
        here = os.path.join(here, part)
        try:
            mode = os.lstat(here).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        rel = "/".join(parts[: i + 1])
        if stat.S_ISLNK(mode):
            raise ReadError(f"{rel} is a symlink (to {os.readlink(here)})", _SYMLINK_FIX)
        if i < len(parts) - 1 and not stat.S_ISDIR(mode):
            raise ReadError(f"{rel} is {_what(mode)} where a folder belongs", "remove it or move it away")
        if i == len(parts) - 1 and not stat.S_ISREG(mode):
            raise ReadError(
                f"{rel} is {_what(mode)}, where a record file belongs", "remove it or move it away"
            )


def decode_utf8(data: bytes) -> str:
    """Decode record bytes as UTF-8, with a message that says where the bad byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReadError(f"not UTF-8 text (bad byte at offset {e.start})", "re-save the file as UTF-8") from e


def _safe_yaml() -> YAML:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def _round_trip_yaml() -> YAML:
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: keeps comments, key order and quoting
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 110
    y.preserve_quotes = True
    return y


def load_yaml(text: str) -> Any:
    """Parse YAML safely. Anchors and aliases are refused: kilngit files never need them, and they are how
    "billion laughs" bombs blow up memory. Nesting is limited before any object is built (deep nesting
    makes the parser crawl), and duplicate keys, non-finite numbers and lone surrogates are refused."""
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

    check_depth(text)
    try:
        depth = 0
        for event in _safe_yaml().parse(io.StringIO(text)):
            if isinstance(event, AliasEvent):
                raise ReadError(
                    "YAML aliases (*name) are not allowed in kilngit files",
                    "write the value out instead of referring to an anchor",
                )
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep()
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
        data = _safe_yaml().load(text)
    except DuplicateKeyError as e:
        raise ReadError(
            f"duplicate key: {_one_line(str(e.problem or e))}{_mark(e)}", "keep one of the two entries"
        ) from e
    except YAMLError as e:
        raise ReadError(
            f"invalid YAML: {_one_line(str(e))}", "fix the YAML syntax at the position shown"
        ) from e
    except ValueError as e:  # e.g. an integer of more than 4,300 digits (as `load_json` says)
        raise ReadError(f"invalid YAML: {_one_line(str(e))}", "fix the value") from e
    check_values(data)
    return data


def _mark(e: Exception) -> str:
    mark = getattr(e, "problem_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""


def load_json(text: str) -> Any:
    """Parse JSON strictly: nesting limited before any object is built, and duplicate keys, NaN/Infinity (and
    numbers too big for a float) and lone surrogates refused, each with a message naming the key or field."""
    check_depth(text)
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as e:
        raise ReadError(
            f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}",
            "restore the file from git (`git checkout -- FILE`) or fix the JSON",
        ) from e
    except (ValueError, RecursionError) as e:  # e.g. an integer of more than 4,300 digits
        raise ReadError(f"invalid JSON: {_one_line(str(e))}", "fix the value") from e
    check_values(data)
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ReadError(
            f"duplicate key {key!r} (JSON readers disagree on which value wins)",
            "keep one of the two entries",
        )
    return d


def _no_constant(name: str) -> Any:
    raise ReadError(
        f"{name} is not a JSON number (kilngit files hold finite numbers only)",
        "write a finite number, or null",
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ReadError(f"number {text[:40]} is too large for a float", "write a smaller number")
    return value


_BRACKETS = re.compile(r"[\[\]{}]")
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"' + r"|'(?:[^'\n]|'')*'")


def check_depth(text: str, limit: int | None = None) -> None:
    """Refuse text nested more than `limit` (default `MAX_DEPTH`) brackets deep, before any parser sees it.

    A quick over-estimate (brackets inside quoted strings are left out, those in comments are not): only
    text with that many brackets at all is scanned."""
    limit = limit or MAX_DEPTH
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for m in _BRACKETS.finditer(_QUOTED.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > limit:
            raise _too_deep()


def _too_deep() -> ReadError:
    return ReadError(
        f"nested more than {MAX_DEPTH} levels deep",
        "flatten the structure (no kilngit file needs that much nesting)",
    )


def check_values(data: Any, pointer: str = "") -> None:
    """Refuse non-finite floats and strings with lone surrogates anywhere in parsed data (they cannot be
    written back as UTF-8 or as standard JSON), naming the field as a JSON pointer."""
    stack = [(data, pointer)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _has_surrogate(value):
                raise ReadError(
                    f"field {where or '/'} holds a lone surrogate (\\ud800-\\udfff), which is not text",
                    "remove the escape or write the real character",
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ReadError(
                    f"field {where or '/'} is {value} (kilngit files hold finite numbers only)",
                    "write a finite number, or null",
                )
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and not k.isascii() and _has_surrogate(k):
                    raise ReadError(f"a key in {where or '/'} holds a lone surrogate", "rename the key")
                stack.append((v, f"{where}/{k}"))
        elif isinstance(value, list):
            stack.extend((v, f"{where}/{i}") for i, v in enumerate(value))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def dump_yaml(data: dict[str, Any], header: str | None = None, existing: str | None = None) -> bytes:
    """YAML text for `data`. When `existing` text is given, edit it in place so the user's comments, key
    order and formatting survive; keys not in `data` are removed."""
    from ruamel.yaml.comments import CommentedMap

    y = _round_trip_yaml()
    if existing is not None:
        doc = y.load(existing)
        if isinstance(doc, CommentedMap):
            _merge(doc, data)
            return _dump(y, doc, None)
    return _dump(y, data, header)


def _merge(doc: Any, data: dict[str, Any]) -> None:
    from ruamel.yaml.comments import CommentedMap

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
