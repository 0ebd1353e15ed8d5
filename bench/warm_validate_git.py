"""Warm `kilngit validate` after one edit beside `git status` on the same tree, in one run.

    python bench/warm_validate_git.py PROJECT [--repeat 5]

PROJECT is a kilngit project in a git work tree (e.g. a copy of one bench/warm_commands.py built:
`cp -a /tmp/kilngit-warm/p100000 /tmp/p100k`); the bench edits one annotation in it, back and forth. The
first `validate` builds the snapshot (the cold path, timed apart). Then, per repeat: edit, `kilngit
validate` (a fresh process, the whole command) and `git status --porcelain` (a fresh process), and in one
process what kilngit itself adds: `sync` (the git calls) and `validate_project` (sync + the snapshot
update). Medians, with the load average beside them (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit.cache.index import sync  # noqa: E402
from kilngit.validate import validate_project  # noqa: E402

KILNGIT = [sys.executable, "-m", "kilngit"]


def _timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _edit(root: Path) -> str:
    """Flip one annotation's pass/fail value (the file stays valid)."""
    folder = root / "tasks"
    path = next(p for p in sorted(folder.glob("*/annotations/*/*/*/*.json")))
    text = path.read_text()
    flipped = re.sub(
        r'"value": (1\.0|0\.0)', lambda m: '"value": ' + ("0.0" if m[1] == "1.0" else "1.0"), text, count=1
    )
    path.write_text(flipped)
    return path.relative_to(root).as_posix()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("project", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = args.project.absolute()
    load = lambda: f"load {os.getloadavg()[0]:.1f}"  # noqa: E731
    cold = _timed([*KILNGIT, "-C", str(root), "validate"], root)
    print(f"first validate (builds the snapshot if none): {cold:.2f} s ({load()})")
    rows: dict[str, list[float]] = {"validate": [], "git status": [], "sync": [], "validate_project": []}
    for _ in range(args.repeat):
        _edit(root)
        rows["validate"].append(_timed([*KILNGIT, "-C", str(root), "validate"], root))
        rows["git status"].append(_timed(["git", "status", "--porcelain"], root))
        _edit(root)
        start = time.perf_counter()
        sync(root)
        rows["sync"].append(time.perf_counter() - start)
        start = time.perf_counter()
        report = validate_project(root)
        rows["validate_project"].append(time.perf_counter() - start)
        print(
            f"  validate {rows['validate'][-1]:.2f} s, git status {rows['git status'][-1]:.2f} s ({load()})"
        )
    version = _timed([*KILNGIT, "--version"], root)
    print(f"{report.files} files; medians of {args.repeat} ({load()}):")
    for name, values in rows.items():
        print(f"  {name:18} {statistics.median(values):.3f} s")
    print(f"  {'kilngit --version':18} {version:.3f} s")
    ratio = statistics.median(rows["validate"]) / statistics.median(rows["git status"])
    print(f"warm validate / git status: {ratio:.2f}x")


if __name__ == "__main__":
    main()
