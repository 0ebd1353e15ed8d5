"""Internal: open a file reached through no symlink at all, in one system call (Linux's `openat2` with
`RESOLVE_NO_SYMLINKS`), for the reader of record files (`_io.read_bytes_and_stat`).

    fd = open_no_symlinks("/real/root/tasks/t/runs/ab/cd/x.json")   # a descriptor, or None

Without it the reader opens the file, then asks `/proc/self/fd` where the descriptor really leads: two calls
and a string per file, a fifth of a cold validate's reading. A path the kernel resolved with no symlink, no
`.` or `..` and no empty part is exactly where the descriptor leads, so that answer is known. None means
"not sure" (not Linux, an older kernel, a sandbox refusing the call, a path this does not take, or any
failure to open): the caller then opens the usual way, which is where every error and its text come from.

ctypes is imported only once a process has read `_BULK` files: a command reading a few records never pays it.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable

_BULK = 500
_SYS_OPENAT2 = 437  # the same number on every architecture of the unified table (Linux 5.6+)
_ARCHES = frozenset({"x86_64", "aarch64", "arm64", "riscv64", "ppc64le", "s390x"})
_AT_FDCWD = -100
_RESOLVE_NO_SYMLINKS = 0x04
FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
"""How a record file is opened: never through a final symlink, never blocking (a FIFO cannot hang it)."""

_ENCODING, _ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_opener: Callable[[bytes], int] | None = None
_state = 0
"""How many opens were asked before `_BULK`; -1 once set up (`_opener` None: not available here)."""


def open_no_symlinks(path: str) -> int | None:
    """A read-only descriptor of the absolute `path` when no part of it is a symlink, `.`, `..` or empty;
    None when not opened (see the module docstring)."""
    global _state, _opener
    if _state >= 0:
        _state += 1
        if _state < _BULK:
            return None
        _opener, _state = _setup(), -1
    if _opener is None or "\0" in path or "/." in path or "//" in path or path[-1:] == "/":
        return None
    try:
        fd = _opener(path.encode(_ENCODING, _ERRORS))  # `os.fsencode`, without its two calls
    except Exception:  # e.g. a name not encodable: the usual open says what is wrong
        return None
    return fd if fd >= 0 else None


def _setup() -> Callable[[bytes], int] | None:
    """The `openat2` caller, or None when this system cannot answer."""
    if not sys.platform.startswith("linux") or platform.machine() not in _ARCHES:
        return None
    try:
        import ctypes

        syscall = ctypes.CDLL(None, use_errno=True).syscall
        syscall.restype = ctypes.c_long
        syscall.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)
        how = (ctypes.c_uint64 * 3)(FLAGS, 0, _RESOLVE_NO_SYMLINKS)  # struct open_how {flags, mode, resolve}
        where, size = ctypes.addressof(how), ctypes.sizeof(how)
    except (ImportError, OSError, AttributeError):
        return None

    def opener(path: bytes) -> int:
        return int(syscall(_SYS_OPENAT2, _AT_FDCWD, path, where, size))

    opener.how = how  # type: ignore[attr-defined]  # keeps the struct alive as long as the caller
    try:
        fd = opener(b"/")
    except Exception:
        return None
    if fd < 0:  # ENOSYS (older kernel), EPERM (a seccomp filter)...
        return None
    os.close(fd)
    return opener
