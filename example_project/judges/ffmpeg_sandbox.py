"""Run one (already policy-checked) ffmpeg command in a throw-away sandbox.

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

Produced files are inspected with ffprobe when it is on PATH, otherwise by
parsing ``ffmpeg -i FILE`` stderr (imageio-ffmpeg ships no ffprobe), under the
same isolation and a shorter time limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

    timeout: float = 20.0  # wall clock, seconds
    cpu_seconds: int = 60  # all threads together; backstop for the wall clock
    max_bytes: int = 64 * 1024 * 1024  # per file (RLIMIT_FSIZE) and in total
    max_files: int = 500
    memory_bytes: int = 4 * 1024 * 1024 * 1024  # address space


@dataclass
class StreamInfo:
    type: str  # video | audio | subtitle | data | attachment
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None


@dataclass
class MediaInfo:
    format_name: str
    duration: float | None
    streams: list[StreamInfo] = field(default_factory=list)

    def of_type(self, kind: str) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == kind]

    def summary(self) -> str:
        parts = [
            f"{s.type[0]}:{s.codec}" + (f" {s.width}x{s.height}" if s.width else "") for s in self.streams
        ]
        dur = f", {self.duration:.2f}s" if self.duration is not None else ""
        return f"{self.format_name}: {', '.join(parts) or 'no streams'}{dur}"


@dataclass
class SandboxResult:
    returncode: int | None
    elapsed: float
    killed: str | None = None  # "timeout", "size", "files", "cpu", "signal N" or None
    stderr_tail: str = ""
    files: dict[str, int] = field(default_factory=dict)  # produced file -> size
    probes: dict[str, MediaInfo | None] = field(default_factory=dict)
    error: str | None = None  # the sandbox itself could not run the command
    isolation: str = "none"


# ----------------------------------------------------------------------- binaries

_cache: dict[object, object] = {}


def find_ffmpeg() -> str | None:
    """System ffmpeg from PATH, else the imageio-ffmpeg binary, else None."""
    if "ffmpeg" not in _cache:
        exe = shutil.which("ffmpeg")
        if exe is None:
            try:
                import imageio_ffmpeg

                exe = imageio_ffmpeg.get_ffmpeg_exe()
            except Exception:  # not installed, or no binary for this platform
                exe = None
        _cache["ffmpeg"] = exe
    return _cache["ffmpeg"]  # type: ignore[return-value]


def find_ffprobe() -> str | None:
    if "ffprobe" not in _cache:
        _cache["ffprobe"] = shutil.which("ffprobe")
    return _cache["ffprobe"]  # type: ignore[return-value]


def _wrap(mode: str, workdir: str, cmd: list[str]) -> list[str]:
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
            workdir = tempfile.mkdtemp(prefix="kilngit-ffmpeg-probe-")
            try:
                if os.geteuid() == 0:
                    os.chown(workdir, NOBODY, NOBODY)
                cmd = _wrap(mode, workdir, [ffmpeg, "-hide_banner", "-version"])
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


def _walk(root: str):
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                yield os.path.relpath(path, root), os.lstat(path)


def _run_limited(
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
                    sizes = [st.st_size for _rel, st in _walk(cwd)]
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


# ------------------------------------------------------------------------ probing

_CODEC_TYPE = {
    "Video": "video",
    "Audio": "audio",
    "Subtitle": "subtitle",
    "Data": "data",
    "Attachment": "attachment",
}


def parse_ffmpeg_info(stderr: str) -> MediaInfo | None:
    """Parse the stream listing ``ffmpeg -i FILE`` prints for its first input."""
    m = re.search(r"^Input #0, (.+?), from ", stderr, flags=re.M)
    if not m:
        return None
    info = MediaInfo(format_name=m.group(1), duration=None)
    d = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", stderr)
    if d:
        info.duration = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3))
    for line in re.findall(r"^\s*Stream #0:\d+.*$", stderr, flags=re.M):
        sm = re.search(r": (Video|Audio|Subtitle|Data|Attachment): ([\w-]+)", line)
        if not sm:
            continue
        st = StreamInfo(type=_CODEC_TYPE[sm.group(1)], codec=sm.group(2))
        if st.type == "video":
            # ", 320x240 [SAR" / ", 320x240," -- not the "0x31637661" codec tags
            res = re.search(r",\s*([1-9]\d*)x([1-9]\d*)(?=[\s,\[]|$)", line)
            if res:
                st.width, st.height = int(res.group(1)), int(res.group(2))
            fps = re.search(r"([\d.]+)(k?) fps", line) or re.search(r"([\d.]+)(k?) tbr", line)
            if fps:
                st.fps = float(fps.group(1)) * (1000 if fps.group(2) else 1)
        info.streams.append(st)
    return info


def parse_ffprobe_json(text: str) -> MediaInfo | None:
    """Parse ``ffprobe -show_format -show_streams -of json`` output."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    fmt = data.get("format") or {}
    if not fmt:
        return None

    def num(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None

    def rate(v):
        a, _, b = str(v).partition("/")
        return num(a) / num(b) if num(a) is not None and num(b) else None

    info = MediaInfo(format_name=fmt.get("format_name", "?"), duration=num(fmt.get("duration")))
    for s in data.get("streams", []):
        st = StreamInfo(type=s.get("codec_type", "data"), codec=s.get("codec_name", "?"))
        if st.type == "video":
            st.width, st.height = s.get("width"), s.get("height")
            st.fps = rate(s.get("avg_frame_rate")) or rate(s.get("r_frame_rate"))
        info.streams.append(st)
    if info.duration is None:
        durations = [num(s.get("duration")) for s in data.get("streams", [])]
        info.duration = max([d for d in durations if d is not None], default=None)
    return info


def probe_file(
    path: str, ffmpeg: str, isolation: str | None = None, timeout: float = 10.0
) -> MediaInfo | None:
    """Streams, codecs, duration and resolution of one media file (None if unreadable)."""
    cwd, name = os.path.split(os.path.abspath(path))
    target = "file:" + name  # "file:" so that '%' or ':' in the name mean nothing special
    ffprobe = find_ffprobe()
    if ffprobe:
        cmd = [
            ffprobe,
            "-v",
            "error",
            "-protocol_whitelist",
            "file",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            target,
        ]
    else:
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-protocol_whitelist", "file", "-i", target]
    mode = isolation if isolation is not None else isolation_mode(ffmpeg)
    fd, log = tempfile.mkstemp(prefix="kilngit-ffmpeg-probe-")
    os.close(fd)
    try:
        _rc, killed, _t = _run_limited(
            _wrap(mode, cwd, cmd),
            cwd,
            Limits(timeout=timeout, cpu_seconds=30),
            log,
            stdout_to_log=bool(ffprobe),
        )
        text = Path(log).read_bytes().decode("utf-8", "replace")
        if killed:
            return None
        return parse_ffprobe_json(text) if ffprobe else parse_ffmpeg_info(text)
    finally:
        os.unlink(log)


# ------------------------------------------------------------------------ running


def build_exec_argv(
    argv: list[str], ffmpeg: str, input_indices: list[int], concat_inputs: set[int] = frozenset()
) -> list[str]:
    """The argv actually executed: real binary, -nostdin, a whitelist before each -i."""
    out = [ffmpeg, "-nostdin", "-hide_banner"]
    for i, tok in enumerate(argv[1:], start=1):
        if i in input_indices:
            out += ["-protocol_whitelist", "file,concat" if i in concat_inputs else "file"]
        out.append(tok)
    return out


def run_in_sandbox(
    argv: list[str],
    files: dict[str, str | bytes],
    *,
    input_indices: list[int] | None = None,
    concat_inputs: set[int] = frozenset(),
    output_dirs: list[str] = (),
    limits: Limits | None = None,
    ffmpeg: str | None = None,
    probe: bool = True,
    probe_select: Callable[[dict[str, int]], list[str]] | None = None,
    max_probes: int = 6,
) -> SandboxResult:
    """Run a policy-checked ffmpeg ``argv`` in a fresh directory and collect results.

    ``files`` maps relative names to a source path to copy or to literal bytes.
    ``input_indices`` are the argv positions of the ``-i`` tokens (from
    ``ffmpeg_policy.analyze_command``); ``output_dirs`` are relative directories
    to create. Produced (new or modified) files are probed, at most
    ``max_probes`` of them (those ``probe_select(files)`` names first, then in
    name order), then the directory is deleted.
    """
    limits = limits or Limits()
    ffmpeg = ffmpeg or find_ffmpeg()
    if not ffmpeg:
        return SandboxResult(None, 0.0, error="no ffmpeg binary found (PATH or imageio-ffmpeg)")
    mode = isolation_mode(ffmpeg)
    if input_indices is None:
        input_indices = [i for i, t in enumerate(argv) if t == "-i" and i > 0]
    workdir = tempfile.mkdtemp(prefix="kilngit-ffmpeg-run-")
    fd, log = tempfile.mkstemp(prefix="kilngit-ffmpeg-log-")
    os.close(fd)
    try:
        for rel, src in files.items():
            dest = os.path.join(workdir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if isinstance(src, bytes):
                Path(dest).write_bytes(src)
            else:
                shutil.copyfile(src, dest)  # a copy: overwriting it must not touch the cache
        for rel in output_dirs:
            os.makedirs(os.path.join(workdir, rel), exist_ok=True)
        if mode != "none" and os.geteuid() == 0:  # the child runs as nobody: give it the directory
            for dirpath, _dirs, names in os.walk(workdir):
                for entry in [dirpath] + [os.path.join(dirpath, n) for n in names]:
                    os.chown(entry, NOBODY, NOBODY)
        before = {rel: (st.st_size, st.st_mtime_ns) for rel, st in _walk(workdir)}
        cmd = _wrap(mode, workdir, build_exec_argv(argv, ffmpeg, input_indices, concat_inputs))
        try:
            rc, killed, elapsed = _run_limited(cmd, workdir, limits, log)
        except OSError as exc:
            return SandboxResult(None, 0.0, error=f"cannot start ffmpeg: {exc}", isolation=mode)
        with open(log, "rb") as fh:
            fh.seek(max(0, os.path.getsize(log) - 4000))
            tail = fh.read().decode("utf-8", "replace")
        if mode == "mount" and rc == 97 and "kilngit-sandbox-setup-failed" in tail:
            return SandboxResult(rc, elapsed, error="the mount sandbox could not be set up", isolation=mode)
        result = SandboxResult(rc, elapsed, killed=killed, stderr_tail=tail, isolation=mode)
        after = {rel: st for rel, st in _walk(workdir)}
        if killed is None and sum(st.st_size for st in after.values()) > limits.max_bytes:
            result.killed = "size"
        for rel, st in after.items():
            if before.get(rel) != (st.st_size, st.st_mtime_ns):
                result.files[rel] = st.st_size
        if probe and result.killed is None:
            chosen = [f for f in (probe_select(result.files) if probe_select else []) if f in result.files]
            for rel in list(dict.fromkeys(chosen + sorted(result.files)))[:max_probes]:
                if result.files[rel] > 0:
                    result.probes[rel] = probe_file(os.path.join(workdir, rel), ffmpeg, mode)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        os.unlink(log)
