"""The sandbox every piece of project code runs in (code judges, and whatever they start, such as the
execution judge's ffmpeg commands).

    require_sandbox("code judge exec")   # raises SandboxUnavailable, or False when the user opted out
    tree = await ProcessTree.start([sys.executable, "-I", script], project.root, sandboxed=True, pass_fds=(fd,))
    await tree.kill()                    # every process of the sandbox is gone when this returns

Linux namespaces through bubblewrap (`bwrap`, Debian package `bubblewrap`): no network, the project and the
Python installation mounted read-only, a private writable `/tmp` (also `$HOME`), none of the real home folder or
`/etc` secrets, an environment reduced to an allow-list, rlimits on CPU time, address space, processes and file
size, and every process of the sandbox killed with it (its own PID namespace; it dies with its parent).

Where bwrap is missing or namespaces are not allowed, `require_sandbox` raises `SandboxUnavailable` unless the
user opted in to running project code as plain processes (`kilngit --unsandboxed`, or `KILNGIT_UNSANDBOXED=1`).
"""

from kilngit.sandbox.bwrap import SandboxUnavailable, probe, sandboxed
from kilngit.sandbox.env import sandbox_env
from kilngit.sandbox.limits import Limits
from kilngit.sandbox.mode import require_sandbox, set_unsandboxed, unsandboxed
from kilngit.sandbox.process import ProcessTree

__all__ = [
    "Limits",
    "ProcessTree",
    "SandboxUnavailable",
    "probe",
    "require_sandbox",
    "sandbox_env",
    "sandboxed",
    "set_unsandboxed",
    "unsandboxed",
]
