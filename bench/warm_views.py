"""Warm `status` and `eval scores` after one edit, from the cached per-run rows, beside `git status` and the
same commands without the cache, side by side in one run.

    python bench/warm_views.py PROJECT [--size N] [--repeat 3]

PROJECT is a git repository of a project made by bench/validate_scale.py's generator (task `t`, eval `e`);
with --size N it is built there first when missing. It is edited (one annotation per measurement, and one
judge result written), so point it at a copy. Each figure is a fresh process (interpreter start-up and
imports included); the first cached run (which computes every row) is reported apart. The machine's load
average is printed beside the figures: on a shared machine only ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from kilngit.records.canonical import to_file_bytes  # noqa: E402

KILNGIT = [sys.executable, "-m", "kilngit"]


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def edit_one(root: Path, note: str) -> None:
    """Change one annotation (its run's row is recomputed)."""
    ann = next((root / "tasks/t/annotations").rglob("*.json"))
    data = json.loads(ann.read_text())
    data["note"] = note
    ann.write_bytes(to_file_bytes(data))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("project", type=Path)
    parser.add_argument("--size", type=int, help="build a project of this many records there when missing")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root: Path = args.project.resolve()
    if not (root / "kilngit.yaml").is_file():
        if not args.size:
            raise SystemExit(f"{root} is not a project (pass --size N to build one)")
        from _common import GIT_ENV
        from validate_scale import build

        build(root, args.size)
        env = {**os.environ, **GIT_ENV}
        subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "bench", "--allow-empty"], cwd=root, check=True, env=env)
    uncached = {**os.environ, "KILNGIT_NO_CACHE": "1"}
    commands = {"status": ["status"], "eval scores": ["eval", "scores"]}
    rows: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        rows.setdefault(name, []).append(seconds)

    for name, cmd in commands.items():  # the first cached run computes every row (once per project)
        add(f"{name}, first cached run", timed([*KILNGIT, *cmd], root)[0])
    for i in range(args.repeat):
        add("git status", timed(["git", "status", "--porcelain"], root)[0])
        for name, cmd in commands.items():
            edit_one(root, f"edited {time.time()} {i}")
            add(f"{name}, warm (1 edit)", timed([*KILNGIT, *cmd], root)[0])
        add("kilngit --version (start-up)", timed([*KILNGIT, "--version"], root)[0])
    for name, cmd in commands.items():
        seconds, _ = timed([*KILNGIT, *cmd], root, uncached)
        add(f"{name}, KILNGIT_NO_CACHE=1", seconds)
    for name, cmd in commands.items():  # and the outputs agree
        if (
            timed([*KILNGIT, *cmd, "--format", "json"], root)[1]
            != timed([*KILNGIT, *cmd, "--format", "json"], root, uncached)[1]
        ):
            raise SystemExit(f"{name}: cached and uncached outputs differ")
    files = sum(1 for _ in (root / "tasks").rglob("*.json"))
    print(f"{root}: {files} record files; load average {os.getloadavg()[0]:.1f} (2-core machine)")
    for name, values in rows.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:38s} median {statistics.median(values):7.2f} s   ({shown})")
    print(
        f"  load average at the end: {os.getloadavg()[0]:.1f}; outputs with and without the cache: identical"
    )


if __name__ == "__main__":
    main()
