"""Internal: the command line that starts one of kilngit's own Python processes (writer, watcher jobs).

    subprocess.Popen(python_module("kilngit._write_worker", str(root)), cwd=root)

`python -m MODULE` puts the current folder first on the import path, so a `struct.py` or `secrets.py` pushed to a
project would run inside kilngit the moment the child imports the standard module of that name. The child is
started isolated instead (`-I`: no current folder or script folder on the path, no PYTHON* variables, no user
site-packages) and finds kilngit through the folder that holds this package, added *after* the standard library
and site-packages so nothing there can be shadowed either.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The folder holding the `kilngit` package (site-packages, or a source checkout run without installing).
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)

_BOOT = (
    "import runpy, sys; sys.path.append(sys.argv.pop(1)); "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def python_module(module: str, *args: str) -> list[str]:
    """argv running `module` as `__main__` in an isolated interpreter (the one running kilngit); `sys.argv[1:]`
    in the child is `args`."""
    return [sys.executable, "-I", "-c", _BOOT, PACKAGE_PARENT, module, *args]
