"""Start-up of `kilngit` commands: interpreter + imports + a small project, each a fresh process.

    python bench/startup.py [--runs 7] [--tree OTHER_CHECKOUT ...] [--project BIG_PROJECT]

On a fresh copy of example_project (a few files, so the figure is nearly all start-up): `python -c pass`,
`kilngit --version`, `--help`, `validate`, `status`, `eval scores`. Each figure is the median over --runs of
wall seconds and of CPU seconds (user + sys of the child; less disturbed by other processes than wall time
on a busy machine), with the load average beside it. Each --tree (another checkout's folder, e.g. from
`git archive`) is measured in the same run through PYTHONPATH, so trees compare side by side.

With --project (e.g. a bench/validate_scale.py project), also per tree: read + json.loads of every file (the
floor) and `validate --no-cache` (a cold full check) on it, once each.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from validate_scale import _SNIPPETS  # noqa: E402

REPO = HERE.parent
EMPTY = tempfile.mkdtemp(prefix="kilngit-startup-")  # the children's working folder (removed by main)
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "kilngit --version": ["-m", "kilngit", "--version"],
    "kilngit --help": ["-m", "kilngit", "--help"],
    "validate": ["-m", "kilngit", "-C", "{project}", "validate"],
    "status": ["-m", "kilngit", "-C", "{project}", "status"],
    "eval scores": ["-m", "kilngit", "-C", "{project}", "eval", "scores"],
}


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process (started outside any checkout: `python -m` puts the current
    folder first on sys.path, ahead of PYTHONPATH)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True, cwd=EMPTY)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def tree_env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree), KILNGIT_AS="bench@example.com")


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to compare")
    parser.add_argument("--project", type=Path, help="a big project for the floor and validate --no-cache")
    args = parser.parse_args()
    trees = [REPO, *args.tree]
    try:
        measure(trees, args.runs, args.project)
    finally:
        os.rmdir(EMPTY)


def measure(trees: list[Path], runs: int, big: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "example_project"
        shutil.copytree(REPO / "example_project", project)
        print(f"{'measure':22} {'tree':28} {'wall s':>8} {'cpu s':>8}  load")
        for name, argv in COMMANDS.items():
            for tree in trees:
                env = tree_env(tree)
                argv_ = [a.format(project=project) for a in argv]
                run(argv_, env)  # the first run fills caches (.pyc, the project's .kilngit/cache)
                figures = [run(argv_, env) for _ in range(runs)]
                wall = statistics.median(w for w, _ in figures)
                cpu = statistics.median(c for _, c in figures)
                print(f"{name:22} {str(tree)[-28:]:28} {wall:8.3f} {cpu:8.3f}  {load()}", flush=True)
    if big:
        for tree in trees:
            env = tree_env(tree)
            floor = run(["-c", _SNIPPETS["read+json.loads"], str(big)], env)
            cold = run(["-m", "kilngit", "-C", str(big), "validate", "--no-cache"], env)
            for name, (wall, cpu) in (("read + json.loads", floor), ("validate --no-cache", cold)):
                print(f"{name:22} {str(tree)[-28:]:28} {wall:8.3f} {cpu:8.3f}  {load()}", flush=True)
            print(f"{'cold / floor (wall)':22} {str(tree)[-28:]:28} {cold[0] / floor[0]:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
