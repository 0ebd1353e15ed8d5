"""The environment of sandboxed code: an allow-list, never kilngit's own environment (API keys, GIT_*, proxies)."""

from __future__ import annotations

import os
import sys

#: Variables copied from kilngit's environment when set: locale and time zone, and the ffmpeg binary the
#: example's execution judge should use (a path, no secret).
PASSED = ("LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "KILNGIT_FFMPEG")


def sandbox_env() -> dict[str, str]:
    """The whole environment of a sandboxed process (the same one with `--unsandboxed`)."""
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        {
            "PATH": os.pathsep.join([os.path.join(sys.prefix, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": "/tmp",  # the private scratch folder: tools that write to ~ find somewhere to write
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",  # the project is read-only
            "KILNGIT_SANDBOX": "1",
        }
    )
    return env
