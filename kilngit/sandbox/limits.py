"""Resource limits of one sandbox, applied inside it by `launch.py` just before the project's code starts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """rlimits of every process in one sandbox (each process counts its own CPU time and address space).

    The defaults fit a code judge that starts a few media tools per judgement: the CPU budget is for the
    worker's whole life (it judges many runs; the per-judgement bound is the judge's wall-clock `timeout_s`),
    4 GiB of address space is what ffmpeg's encoders reserve, and 64 processes leave room for a pipeline but
    stop a fork bomb.
    """

    cpu_seconds: int = 600
    memory_bytes: int = 4 << 30
    processes: int = 64
    file_bytes: int = 256 << 20
    open_files: int = 256
    scratch_bytes: int = 512 << 20
    """Size of the private `/tmp` (a tmpfs, so it also counts as memory)."""

    def launcher_args(self) -> list[str]:
        """The limits as `launch.py` reads them."""
        return [
            str(v)
            for v in (self.cpu_seconds, self.memory_bytes, self.processes, self.file_bytes, self.open_files)
        ]
