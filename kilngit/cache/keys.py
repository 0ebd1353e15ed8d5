"""What a file's cache entry is keyed by: its path and what `lstat` says of it (size, mtime, ctime, inode),
and when that key can be trusted.

Any write to a file changes its ctime (which no program can set back) and usually its size or mtime, so an
unchanged key means unchanged bytes -- with one exception git calls "racy": a file changed again within the
same tick of the file system's clock as it was read keeps its key. Like git, we compare with a stamp taken
on the same clock: before each scan a stamp file is touched, and a file whose mtime or ctime is not older
than the stamp may still change unseen, so its facts are used for this command only and never stored.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

RACY = "racy"
"""The key of a file whose facts are not stored (it may change within the stamp's tick)."""


def stat_key(st: os.stat_result) -> str | None:
    """The key of a regular file (None for anything else, which is never cached)."""
    if not stat.S_ISREG(st.st_mode):
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def file_key(path: str, stamp_ns: int) -> str | None:
    """The key of the file at `path` (not followed if a symlink): None when missing or not a regular file,
    `RACY` when changed too recently to be trusted."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return trusted_key(st, stamp_ns)


def trusted_key(st: os.stat_result, stamp_ns: int) -> str | None:
    key = stat_key(st)
    if key is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= stamp_ns:
        return RACY
    return key


def take_stamp(folder: Path) -> int:
    """Touch `folder/stamp` and return its new mtime: "now" on the file system's own clock and granularity.
    Without a writable folder, "now" on the system clock less a second (coarse file systems round down)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a `stamp` symlink (someone committed one) is refused rather than touched.
        fd = os.open(folder / "stamp", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        try:
            os.utime(fd)
            return os.fstat(fd).st_mtime_ns
        finally:
            os.close(fd)
    except OSError:
        return time.time_ns() - 1_000_000_000
