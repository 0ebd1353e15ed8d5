"""One running piece of project code: started in the sandbox (or, opted out, as a plain process group), and
ended with everything it started.

    tree = await ProcessTree.start(argv, root, sandboxed=True, limits=Limits(), pass_fds=(fd,), stdout=PIPE)
    await tree.kill()   # returns once no process of the sandbox is left

In the sandbox, the first process of its PID namespace is bubblewrap's own init; killing it makes the kernel
kill every other process of the namespace (children in new sessions, daemons, a process that ignores signals)
before it ends, and bubblewrap's outer process ends only after that. So once `kill` returns nothing is left,
which a process group (all an unsandboxed run gets) cannot promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from kilngit.sandbox.bwrap import sandboxed as sandbox_argv
from kilngit.sandbox.env import sandbox_env
from kilngit.sandbox.limits import Limits

HANG_S = 30.0  # guards a hang only: the kernel empties a namespace in milliseconds


class ProcessTree:
    """A started process and, when sandboxed, the host pid of its namespace's first process."""

    def __init__(self, proc: asyncio.subprocess.Process, init_pid: int | None) -> None:
        self.proc = proc
        self.init_pid = init_pid

    @classmethod
    async def start(
        cls,
        argv: list[str],
        root: Path,
        *,
        sandboxed: bool,
        limits: Limits | None = None,
        pass_fds: tuple[int, ...] = (),
        **popen: Any,
    ) -> ProcessTree:
        """Start `argv` with the sandbox's environment in `root`, in a new session; `popen` are the stdio
        arguments of `asyncio.create_subprocess_exec`."""
        if not sandboxed:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=root, env=sandbox_env(), pass_fds=pass_fds, start_new_session=True, **popen
            )
            return cls(proc, None)
        info_read, info_write = os.pipe()
        argv = sandbox_argv(argv, root, limits, info_fd=info_write)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=root,
                env=sandbox_env(),
                pass_fds=(*pass_fds, info_write),
                start_new_session=True,
                **popen,
            )
        finally:
            os.close(info_write)
        return cls(proc, await _child_pid(info_read))

    async def kill(self) -> None:
        """Kill every process of the tree and wait until they are gone."""
        if self.init_pid is not None and self.proc.returncode is None:
            # bubblewrap's outer process has not reaped its child yet, so the pid is still that child's.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.init_pid, signal.SIGKILL)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), HANG_S)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()


async def _child_pid(fd: int) -> int | None:
    """The pid bubblewrap reports on its info fd (None when it failed before starting anything)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    data = b""
    try:
        while b"}" not in data and (chunk := await asyncio.wait_for(reader.read(4096), HANG_S)):
            data += chunk
    except TimeoutError:
        pass
    finally:
        transport.close()
    with contextlib.suppress(ValueError, AttributeError):
        pid = json.loads(data).get("child-pid")
        return pid if isinstance(pid, int) and pid > 1 else None
    return None
