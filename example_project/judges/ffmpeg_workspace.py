"""The folder a judged answer runs in: inputs placed, steps run one after another, what they produced.

Each step is one policy-checked ffmpeg argv, run with ``ffmpeg_sandbox``'s isolation and limits in a fresh
folder under ``ffmpeg_sandbox.scratch_root()`` (inside ``TMPDIR``); the folder is deleted afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    from . import ffmpeg_sandbox
    from .ffmpeg_sandbox import NOBODY, Limits, isolation_mode, run_limited, scratch_root, wrap
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_sandbox  # type: ignore[no-redef]
    from ffmpeg_sandbox import NOBODY, Limits, isolation_mode, run_limited, scratch_root, wrap  # type: ignore

_walk = ffmpeg_sandbox.walk


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


@dataclass
class StepRun:
    """What one command did."""

    argv: list[str]
    returncode: int | None
    elapsed: float
    killed: str | None = None  # "timeout", "size", "files", "cpu", "signal N" or None
    stderr_tail: str = ""
    error: str | None = None  # the sandbox itself could not run the command

    @property
    def ok(self) -> bool:
        return self.error is None and self.killed is None and self.returncode == 0

    def first_error(self) -> str | None:
        """The line of ffmpeg's stderr a person would look at first (errors before warnings)."""
        lines = [ln.strip() for ln in self.stderr_tail.splitlines() if ln.strip()]
        for pattern in (
            r"error|invalid|unknown|unrecognized|not found|no such|failed|cannot|could not|"
            r"does not|matches no|unable|incorrect|not supported|nothing was written",
            r"warning|not used",
        ):
            for line in lines:
                if re.search(pattern, line, re.I) and not line.startswith(("Press [q]", "frame=", "size=")):
                    return re.sub(r" @ 0x[0-9a-f]+", "", line)[:300]  # addresses differ from run to run
        lines = [ln for ln in lines if not ln.startswith(("frame=", "size=", "Press [q]"))]  # progress lines
        return re.sub(r" @ 0x[0-9a-f]+", "", lines[-1])[:300] if lines and not self.ok else None


class Workspace:
    """A fresh folder under ``scratch_root()`` holding the inputs; commands run in it one after another.

    ``files`` maps relative names to a source path to copy (never a link: a command overwriting its input
    must not touch the cache) or to literal bytes. Use as a context manager: the folder is deleted on exit.
    """

    def __init__(self, files: dict[str, str | bytes], ffmpeg: str, limits: Limits | None = None) -> None:
        self.ffmpeg, self.limits = ffmpeg, limits or Limits()
        self.mode = isolation_mode(ffmpeg)
        self.dir = tempfile.mkdtemp(prefix="run-", dir=scratch_root())
        for rel, src in files.items():
            dest = os.path.join(self.dir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if isinstance(src, bytes):
                Path(dest).write_bytes(src)
            else:
                shutil.copyfile(src, dest)
        self.initial = self._snapshot()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _snapshot(self) -> dict[str, tuple[int, int]]:
        return {rel: (st.st_size, st.st_mtime_ns) for rel, st in _walk(self.dir)}

    def path(self, rel: str) -> str:
        return os.path.join(self.dir, rel)

    def mkdir(self, rel: str) -> None:
        os.makedirs(self.path(rel), exist_ok=True)

    def _give_to_nobody(self) -> None:
        if self.mode != "none" and os.geteuid() == 0:  # the child runs as nobody: give it the folder
            for dirpath, _dirs, names in os.walk(self.dir):
                for entry in [dirpath] + [os.path.join(dirpath, n) for n in names]:
                    os.chown(entry, NOBODY, NOBODY)

    def run(
        self, argv: list[str], input_indices: list[int] | None = None, concat_inputs: set[int] = frozenset()
    ) -> StepRun:
        """Run one policy-checked ffmpeg argv in the folder under the limits."""
        if input_indices is None:
            input_indices = [i for i, t in enumerate(argv) if t == "-i" and i > 0]
        self._give_to_nobody()
        fd, log = tempfile.mkstemp(prefix="log-", dir=scratch_root())
        os.close(fd)
        try:
            cmd = wrap(self.mode, self.dir, build_exec_argv(argv, self.ffmpeg, input_indices, concat_inputs))
            try:
                rc, killed, elapsed = run_limited(cmd, self.dir, self.limits, log)
            except OSError as exc:
                return StepRun(argv, None, 0.0, error=f"cannot start ffmpeg: {exc}")
            with open(log, "rb") as fh:
                fh.seek(max(0, os.path.getsize(log) - 6000))
                tail = fh.read().decode("utf-8", "replace")
        finally:
            os.unlink(log)
        if self.mode == "mount" and rc == 97 and "kilngit-sandbox-setup-failed" in tail:
            return StepRun(argv, rc, elapsed, error="the mount sandbox could not be set up")
        step = StepRun(argv, rc, elapsed, killed=killed, stderr_tail=tail)
        if killed is None and sum(st.st_size for _rel, st in _walk(self.dir)) > self.limits.max_bytes:
            step.killed = "size"
        return step

    def produced(self) -> dict[str, int]:
        """Files that are new or changed since the inputs were placed: name -> size."""
        return {
            rel: size
            for rel, (size, mtime) in self._snapshot().items()
            if self.initial.get(rel) != (size, mtime)
        }


def run_in_sandbox(
    argv: list[str], files: dict[str, str | bytes], *, limits: Limits | None = None, ffmpeg: str | None = None
) -> tuple[StepRun, dict[str, int]]:
    """One command in a fresh workspace: ``(what it did, files it produced)``."""
    ffmpeg = ffmpeg or ffmpeg_sandbox.find_ffmpeg()
    if not ffmpeg:
        return StepRun(
            argv, None, 0.0, error="no ffmpeg binary found (KILNGIT_FFMPEG, PATH or imageio-ffmpeg)"
        ), {}
    with Workspace(files, ffmpeg, limits) as ws:
        step = ws.run(argv)
        return step, ws.produced()
