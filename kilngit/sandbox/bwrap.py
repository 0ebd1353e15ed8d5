"""The bubblewrap command line of one sandbox, and the check that bubblewrap works on this machine.

What is visible inside: `/usr` (and the `/bin`, `/lib*` links into it), a few harmless files of `/etc` (the
loader cache, passwd/group, time zone, fonts: never shadow, ssh or ssl keys), the Python installation kilngit
runs on (its prefix, site-packages, which hold e.g. imageio-ffmpeg's binary, and kilngit's own package), all
read-only; the project read-only at its own path, which is also the working folder; a private tmpfs on `/tmp`;
a fresh `/proc` and `/dev`. No network (only a loopback that is down), its own PID, IPC and UTS namespaces, a
new terminal session (no typing into kilngit's terminal), no new privileges, and it dies with its parent.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from kilngit.errors import KilngitError
from kilngit.sandbox.env import sandbox_env
from kilngit.sandbox.limits import Limits

LAUNCH = Path(__file__).with_name("launch.py")
KILNGIT_PACKAGE = str(Path(__file__).resolve().parents[1])
#: Files of /etc that programs need and that hold no secrets.
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "fonts",
    "mime.types",
    "magic",
)
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_FIRST_UID = 1 << 28  # root gives up root for a random user id from here: no files, no other processes


class SandboxUnavailable(KilngitError):
    """The sandbox cannot run here (bubblewrap missing, or namespaces not allowed) and the user did not opt out."""


def bwrap_binary() -> str | None:
    """`$KILNGIT_BWRAP`, else `bwrap` on PATH, else None."""
    configured = os.environ.get("KILNGIT_BWRAP")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap") or (shutil.which("bwrap", path="/usr/bin:/bin"))


def sandboxed(
    argv: list[str], root: Path, limits: Limits | None = None, info_fd: int | None = None
) -> list[str]:
    """The command that runs `argv` inside a sandbox seeing `root` (read-only) as its working folder.

    File descriptors the caller passes with `pass_fds` stay open inside; bubblewrap writes the host pid of the
    sandbox's first process to `info_fd` (see `process.ProcessTree`, which starts and ends sandboxes).
    """
    binary = bwrap_binary()
    if binary is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    limits = limits or Limits()
    root = Path(root).resolve()
    as_root = os.geteuid() == 0
    args = [
        binary,
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "kilngit-sandbox",
        "--cap-drop",
        "ALL",
    ]
    if (
        as_root
    ):  # no user namespace (it would map back to root); keep only the right to change user, for launch.py
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in TOP_LEVEL:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # /tmp first: a project or Python that lives under /tmp is then mounted over it, not hidden by it.
    args += [
        "--perms",
        "1777",
        "--size",
        str(limits.scratch_bytes),
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    made: set[str] = set()
    for folder in (*_python_folders(), str(root)):
        args += [*_parents(folder, made), "--ro-bind", folder, folder]
    args += ["--chdir", str(root)]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    uid = _FIRST_UID + secrets.randbelow(1 << 20) if as_root else 0
    return [
        *args,
        "--",
        sys.executable,
        "-I",
        "-S",
        str(LAUNCH),
        *limits.launcher_args(),
        str(uid),
        "--",
        *argv,
    ]


def _parents(folder: str, made: set[str]) -> list[str]:
    """Create the folders above a mount point readable by all (bubblewrap would make them 0700, which the
    sandbox's own user could not enter)."""
    args = []
    for parent in reversed(Path(folder).parents[:-1]):
        if str(parent) not in made and str(parent) not in ("/tmp", "/usr"):
            made.add(str(parent))
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


@functools.cache
def _python_folders() -> tuple[str, ...]:
    """The folders of the Python installation running kilngit that are not under /usr, outermost only."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        KILNGIT_PACKAGE,
        str(Path(os.path.realpath(sys.executable)).parents[1]),
        *site.getsitepackages(),
    }
    folders = sorted({os.path.realpath(c) for c in candidates if os.path.isdir(c)})
    outermost: list[str] = []
    for folder in folders:
        if folder == "/usr" or folder.startswith("/usr/"):
            continue
        if not any(folder.startswith(outer.rstrip("/") + "/") for outer in outermost):
            outermost.append(folder)
    return tuple(outermost)


@functools.cache
def _probe(binary: str | None, euid: int) -> str | None:
    if binary is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="kilngit-sandbox-probe-") as folder:
        try:
            done = subprocess.run(
                sandboxed([sys.executable, "-I", "-S", "-c", "pass"], Path(folder)),
                env=sandbox_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as e:
            return f"{binary} cannot start: {e}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{binary} failed (exit {done.returncode})" + (f": {said[-1]}" if said else "")
    return None


def probe() -> str | None:
    """None when a sandbox starts on this machine, else what stops it (checked once per process)."""
    return _probe(bwrap_binary(), os.geteuid())
