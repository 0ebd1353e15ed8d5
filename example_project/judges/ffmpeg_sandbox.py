"""Isolation, limits and the binary for running generated ffmpeg commands (see also ffmpeg_workspace).

The policy in ``ffmpeg_policy`` is the first line of defence; this module is the
second one and assumes the policy may have missed something. Layers:

* a fresh temporary directory as cwd holding only the synthetic inputs (copies,
  never links, of cached files: a command overwriting its input cannot poison
  the cache); parent directories of the declared outputs are created;
* isolation through util-linux ``unshare``, the strongest mode that works here
  (probed once, see ``isolation_mode``):

  - ``"mount"``: new mount + network namespaces; every mount is remounted
    read-only except a bind mount of the sandbox directory, so the command can
    write nowhere else (not even /tmp or /dev/shm) and has no network at all
    (only a down loopback); as root it then drops to uid/gid 65534 (nobody)
    with ``setpriv --no-new-privs``;
  - ``"net"``: network namespace only (and nobody when root);
  - ``"none"``: no isolation tool available; the policy alone protects;

* ``-nostdin`` (stdin is /dev/null too, stdout is discarded) and
  ``-protocol_whitelist file`` (``file,concat`` for ``concat:`` inputs) injected
  before every ``-i``. ``pipe`` is deliberately not whitelisted: with no stdin
  and no stdout it could only bypass the size accounting;
* no ``-y`` is added: the only file an output can collide with is an input, and
  ffmpeg then refuses to overwrite it (``-nostdin`` turns the prompt into an
  error) unless the command asked for ``-y`` itself; either way only the
  sandbox copy is affected;
* rlimits set in the child: RLIMIT_FSIZE (a file larger than ``max_bytes`` gets
  ffmpeg killed by SIGXFSZ), RLIMIT_CPU, RLIMIT_AS, RLIMIT_CORE=0,
  RLIMIT_NOFILE; plus a watchdog in the parent that kills the whole process
  group on wall-clock timeout or when total bytes / number of files written
  exceed the caps; a minimal environment (no proxies, HOME/TMPDIR = sandbox).

Everything the judge writes lives under ``scratch_root()`` (a private folder
in ``TMPDIR``): it needs no home, no network and no writable project, so it
also runs inside a sandbox that gives code judges only a private temp dir.
The binary is ``$KILNGIT_FFMPEG`` when set, else ``ffmpeg`` on PATH, else the
static binary of the imageio-ffmpeg package; ffprobe is the one next to it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass

NOBODY = 65534

# Runs inside the new mount namespace (as root of it), before exec'ing ffmpeg.
# It is a constant; the sandbox directory and the command arrive as "$@", so no
# model-controlled text is ever interpreted by this shell.
_MOUNT_SCRIPT = r"""
fail() { echo "kilngit-sandbox-setup-failed: $1" >&2; exit 97; }
w="$1"; drop="$2"; shift 2
mount --bind "$w" "$w" || fail "bind mount"
findmnt -rno TARGET | sort -u | while read -r t; do
  [ "$t" = "$w" ] && continue
  mount -o remount,bind,ro "$t" 2>/dev/null || true
done
[ -w / ] && fail "root file system still writable"
cd "$w" || fail "cd"
if [ "$drop" = 1 ]; then
  exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs -- "$@"
fi
exec "$@"
"""


@dataclass
class Limits:
    """Resource limits for one judged command."""

    timeout: float = 90.0  # wall clock, seconds (a slow preset on a busy machine takes a while)
    cpu_seconds: int = 180  # all threads together; backstop for the wall clock
    max_bytes: int = 64 * 1024 * 1024  # per file (RLIMIT_FSIZE) and in total
    max_files: int = 500
    memory_bytes: int = 4 * 1024 * 1024 * 1024  # address space


_cache: dict[object, object] = {}


def find_ffmpeg() -> str | None:
    """``$KILNGIT_FFMPEG``, else ffmpeg from PATH, else the imageio-ffmpeg binary, else None."""
    if "ffmpeg" not in _cache:
        exe = os.environ.get("KILNGIT_FFMPEG") or shutil.which("ffmpeg")
        if exe is None:
            try:
                import imageio_ffmpeg

                exe = imageio_ffmpeg.get_ffmpeg_exe()
            except Exception:  # not installed, or no binary for this platform
                exe = None
        _cache["ffmpeg"] = exe
    return _cache["ffmpeg"]  # type: ignore[return-value]


def find_ffprobe(ffmpeg: str) -> str | None:
    """The ffprobe that belongs to ``ffmpeg`` (same folder), or None (imageio-ffmpeg ships none)."""
    sibling = os.path.join(os.path.dirname(ffmpeg), "ffprobe")
    return sibling if os.path.isfile(sibling) and os.access(sibling, os.X_OK) else None


def scratch_root() -> str:
    """This user's private folder under the temp dir, for run folders and logs (created 0700)."""
    root = os.path.join(tempfile.gettempdir(), f"kilngit-ffmpeg-{os.getuid()}")
    os.makedirs(root, mode=0o700, exist_ok=True)
    st = os.lstat(root)
    if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o077:
        root = tempfile.mkdtemp(prefix="kilngit-ffmpeg-")  # someone else's: never share it
    return root


def wrap(mode: str, workdir: str, cmd: list[str]) -> list[str]:
    """``cmd`` wrapped for the given isolation mode."""
    root = os.geteuid() == 0
    if mode == "mount":
        ns = ["unshare", "-m", "-n"] if root else ["unshare", "-r", "-m", "-n"]
        return ns + ["sh", "-c", _MOUNT_SCRIPT, "kilngit-sandbox", workdir, "1" if root else "0"] + cmd
    if mode == "net":
        ns = ["unshare", "-n", "-S", str(NOBODY), "-G", str(NOBODY)] if root else ["unshare", "-r", "-n"]
        return ns + cmd
    return cmd


def isolation_mode(ffmpeg: str) -> str:
    """Strongest isolation that works on this machine: "mount", "net" or "none"."""
    key = ("isolation", ffmpeg)
    if key not in _cache:
        _cache[key] = "none"
        tools = ("unshare", "findmnt", "mount", "sh") + (("setpriv",) if os.geteuid() == 0 else ())
        for mode in ("mount", "net"):
            if not all(shutil.which(t) for t in tools[: 1 if mode == "net" else None]):
                continue
            workdir = tempfile.mkdtemp(prefix="probe-", dir=scratch_root())
            try:
                if os.geteuid() == 0:
                    os.chown(workdir, NOBODY, NOBODY)
                cmd = wrap(mode, workdir, [ffmpeg, "-hide_banner", "-version"])
                ok = (
                    subprocess.run(
                        cmd,
                        cwd=workdir,
                        env=_child_env(workdir),
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        timeout=20,
                    ).returncode
                    == 0
                )
            except (OSError, subprocess.SubprocessError):
                ok = False
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            if ok:
                _cache[key] = mode
                break
    return _cache[key]  # type: ignore[return-value]


def _child_env(workdir: str) -> dict[str, str]:
    # Built from scratch: no proxies, no FFREPORT, no LD_PRELOAD from the parent.
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "AV_LOG_FORCE_NOCOLOR": "1",
    }


def _preexec(limits: Limits):
    def apply() -> None:
        # Runs in the child between fork and exec: plain syscalls only.
        for res, value in (
            (resource.RLIMIT_FSIZE, limits.max_bytes),
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NOFILE, 256),
        ):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (value, value))
        os.nice(5)

    return apply


def walk(root: str):
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                yield os.path.relpath(path, root), os.lstat(path)


def run_limited(
    cmd: list[str], cwd: str, limits: Limits, log_path: str, stdout_to_log: bool = False
) -> tuple[int | None, str | None, float]:
    """Run ``cmd`` in its own process group under the limits; kill the group if needed."""
    start = time.monotonic()
    killed = None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=_child_env(cwd),
            stdin=subprocess.DEVNULL,
            stdout=log if stdout_to_log else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if stdout_to_log else log,
            start_new_session=True,
            preexec_fn=_preexec(limits),
            close_fds=True,
        )
        try:
            while True:
                try:
                    proc.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() - start > limits.timeout:
                    killed = "timeout"
                else:
                    sizes = [st.st_size for _rel, st in walk(cwd)]
                    if sum(sizes) > limits.max_bytes:
                        killed = "size"
                    elif len(sizes) > limits.max_files:
                        killed = "files"
                if killed:
                    break
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # ffmpeg and anything it started
                proc.wait()
    rc = proc.returncode
    if killed is None and rc is not None and rc < 0:
        sig = -rc
        killed = {signal.SIGXFSZ: "size", signal.SIGXCPU: "cpu"}.get(sig, f"signal {sig}")
    return rc, killed, time.monotonic() - start
