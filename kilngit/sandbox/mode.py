"""Whether project code may run without the sandbox: only when the user said so (`--unsandboxed`)."""

from __future__ import annotations

import os

from kilngit.sandbox.bwrap import SandboxUnavailable, probe

ENV = "KILNGIT_UNSANDBOXED"


def set_unsandboxed() -> None:
    """Run project code as plain processes, in this process and the jobs it starts (`kilngit --unsandboxed`)."""
    os.environ[ENV] = "1"


def unsandboxed() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def require_sandbox(what: str) -> bool:
    """True when `what` (e.g. "code judge exec") runs sandboxed, False when the user opted out; raises
    `SandboxUnavailable` when the sandbox cannot run here and the user did not opt out."""
    if unsandboxed():
        return False
    problem = probe()
    if problem:
        raise SandboxUnavailable(
            f"{what} is project code and kilngit runs project code only in its sandbox, which is not available "
            f"here: {problem}",
            hint="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) on a kernel that allows user "
            "namespaces, or pass --unsandboxed (KILNGIT_UNSANDBOXED=1) to run it as a plain process with "
            "your permissions",
        )
    return True
