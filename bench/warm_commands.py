"""Warm commands on big projects: what the local cache (.kilngit/cache/) buys, side by side in one run.

    python bench/warm_commands.py 100000 [1000000] [--dir /tmp/kilngit-warm] [--demo SRC] [--kiln-python PY]

For each size, a project of that many records (70% runs, 20% annotations, 10% judge results; built once
with bench/validate_scale.py's generator, committed in git and kept under --dir) is measured, each figure a
fresh process with a warm OS page cache and kilngit byte-compiled first (as installing it does):

* read + json.loads of every file (the floor), cold `validate` (empty cache) and `validate --no-cache`;
* after one edit of an annotation's note: warm `validate`, `status`, `eval scores` (each the median of 3, a
  fresh edit before each), and `git status` on the tree (`--skip cold` keeps a cache a previous run filled);
* warm `status` and `eval scores` after an edit that changes what they count or score: an annotation's
  rating, a verdict (a judge result replaced by one with the other score);
* peak memory (ru_maxrss) of a process loading every record (`Project` runs, annotations, states, results),
  with the cache and without (`--peak-only`: just these, e.g. `--peak-only 100000 1000000`).

Each figure is printed as it is measured, with the machine's load average beside it.

Then the imported Kiln demo: warm `validate` beside kiln-ai loading the original (kiln-ai in its own venv,
as .ci/run installs it: --kiln-python, $KILN_PYTHON or ~/.cache/kilngit-ci/kilnvenv/bin/python).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from validate_scale import _SNIPPETS, build  # noqa: E402

from kilngit import layout  # noqa: E402
from kilngit.cache.store import CACHE_DIR  # noqa: E402
from kilngit.records.canonical import content_id, to_file_bytes  # noqa: E402

DEMO = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"
KILN_LOADER = HERE.parent / "tests" / "kiln" / "load_with_kiln_ai.py"
KILNGIT = [sys.executable, "-m", "kilngit"]

PEAK_LOAD = _SNIPPETS["full load"].replace(
    "print(n)", "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def timed(cmd: list[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds, proc.stdout


def cpu_timed(out: Figures, name: str, cmd: list[str]) -> None:
    """`timed`, recording the wall seconds as `name` and the CPU seconds of the process and every process
    it waited for (its workers) beside it: on a shared machine the CPU figure is the steadier one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out[name] = timed(cmd)[0]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out[f"{name} (CPU s)"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def drop_cache(root: Path) -> None:
    shutil.rmtree(root / CACHE_DIR, ignore_errors=True)


def edit_one(root: Path, note: str) -> None:
    """A note: read by no count and no scoreboard."""
    ann = next((root / "tasks/t/annotations").rglob("*.json"))
    data = json.loads(ann.read_text())
    data["note"] = note
    ann.write_bytes(to_file_bytes(data))


def edit_rating(root: Path, note: str) -> None:
    """A rating: the run's consensus (status's rated and disputed counts, a label score's truth)."""
    ann = next((root / "tasks/t/annotations").rglob("*.json"))
    data = json.loads(ann.read_text())
    data["rating"]["value"] = 1.0 - data["rating"]["value"]
    data["note"] = note
    ann.write_bytes(to_file_bytes(data))


def edit_verdict(root: Path, note: str) -> None:
    """A verdict: one judge result replaced by one with the other score (a new content ID, a new file), as
    a re-judged run gets; the scoreboard reads it."""
    old = next((root / "tasks/t/evals/e/results").rglob("*.json"))
    data = json.loads(old.read_text())
    data["scores"] = {name: 1.0 - value for name, value in data["scores"].items()}
    data["explanation"] = note
    data["id"] = content_id({k: v for k, v in data.items() if k != "id"})
    new = root / layout.judge_result_file("t", "e", data["judge"], data["id"])
    new.parent.mkdir(parents=True, exist_ok=True)
    new.write_bytes(to_file_bytes(data))
    old.unlink()


class Figures(dict[str, float]):
    """Figures printed as they are measured, each with the machine's load average beside it."""

    def __init__(self, label: object) -> None:
        super().__init__()
        self.label = label

    def __setitem__(self, name: str, value: float) -> None:
        super().__setitem__(name, value)
        load = os.getloadavg()[0]
        print(f"{self.label!s:>9}  {name:<40} {value:8.2f}   (load {load:.1f})", flush=True)


def peak_memory(root: Path, out: Figures, fill: bool = True, no_cache: bool = True) -> None:
    """Peak RSS (ru_maxrss) and time of a process loading every record, with the cache and without."""
    if fill:  # a first load fills the cache (e.g. after a change of kilngit's code emptied it)
        timed([sys.executable, "-c", PEAK_LOAD, str(root)])
    seconds, peak = timed([sys.executable, "-c", PEAK_LOAD, str(root)])
    out["full load, warm"] = seconds
    out["peak MB, full load (warm)"] = int(peak) / 1024
    if not no_cache:
        return
    os.environ["KILNGIT_NO_CACHE"] = "1"
    try:
        out["full load, no cache"], peak = timed([sys.executable, "-c", PEAK_LOAD, str(root)])
    finally:
        del os.environ["KILNGIT_NO_CACHE"]
    out["peak MB, full load (no cache)"] = int(peak.strip()) / 1024


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _warm(root: Path, argv: list[str], edit: Callable[[Path, str], None] = edit_one) -> float:
    """The median of 3 runs of `kilngit ARGV`, each after a fresh `edit` (default: one annotation's note)."""
    times = []
    for i in range(3):
        edit(root, f"edit {i} before {' '.join(argv)} at {time.time()}")
        times.append(timed([*KILNGIT, "-C", str(root), *argv])[0])
    return _median(times)


def measure(root: Path, n: int, skip: set[str]) -> dict[str, float]:
    out = Figures(n)
    timed([sys.executable, "-c", _SNIPPETS["read+json.loads"], str(root)])  # warm the page cache
    if "floor" not in skip:
        cpu_timed(
            out, "read+json.loads (floor)", [sys.executable, "-c", _SNIPPETS["read+json.loads"], str(root)]
        )
    if "no-cache" not in skip:
        cpu_timed(out, "validate --no-cache", [*KILNGIT, "-C", str(root), "validate", "--no-cache"])
    if "cold" in skip:  # keep the cache a previous run filled (e.g. hours of a first pass at 1M)
        timed([*KILNGIT, "-C", str(root), "validate"])
    else:
        drop_cache(root)
        cpu_timed(out, "validate, cold (empty cache)", [*KILNGIT, "-C", str(root), "validate"])
    if "warm" in skip:
        return out
    # A first run computes every run's row (as after any edit of the task's definitions).
    out["status, first (every row)"] = timed([*KILNGIT, "-C", str(root), "status"])[0]
    out["eval scores, first after it"] = timed([*KILNGIT, "-C", str(root), "eval", "scores"])[0]
    for name, argv in (
        ("validate", ["validate"]),
        ("status", ["status"]),
        ("eval scores", ["eval", "scores"]),
    ):
        out[f"{name}, warm (1 edit)"] = _warm(root, argv)
    for what, edit in (("rating", edit_rating), ("verdict", edit_verdict)):  # edits the counts, boards read
        for name, argv in (("status", ["status"]), ("eval scores", ["eval", "scores"])):
            out[f"{name}, warm (1 {what})"] = _warm(root, argv, edit)
    out["git status"] = _median([timed(["git", "status", "--porcelain"], cwd=root)[0] for _ in range(3)])
    out["kilngit --version (startup)"] = timed([*KILNGIT, "--version"])[0]
    peak_memory(root, out, fill=False, no_cache="no-cache" not in skip)
    for git in (["checkout", "-q", "--", "."], ["clean", "-q", "-f", "--", "tasks"]):  # the tree as built
        assert subprocess.run(["git", *git], cwd=root).returncode == 0
    return out


def demo(src: Path, kiln_python: str | None, base: Path) -> dict[str, float]:
    root = base / "kiln-demo"
    if not (root / "kilngit.yaml").exists():
        timed([*KILNGIT, "import", "kiln", str(src), "--into", str(root)])
    out = Figures("demo")
    timed([*KILNGIT, "-C", str(root), "validate"])  # fills the cache
    seconds, text = timed([*KILNGIT, "-C", str(root), "validate", "--format", "json"])
    out["kilngit validate, warm (process)"] = seconds
    out["kilngit validate, warm (in-process)"] = json.loads(text)["seconds"]
    seconds, text = timed([*KILNGIT, "-C", str(root), "validate", "--no-cache", "--format", "json"])
    out["kilngit validate --no-cache (in-process)"] = json.loads(text)["seconds"]
    if kiln_python:
        loaded = json.loads(timed([kiln_python, str(KILN_LOADER), str(src)])[1])
        out["kiln-ai load of the original (in-process)"] = loaded["load_seconds"]
        out["kiln-ai import + load (process)"] = loaded["load_seconds"] + loaded["import_seconds"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "kilngit-warm")
    parser.add_argument("--demo", type=Path, default=DEMO)
    default_kiln = os.environ.get("KILN_PYTHON") or str(Path.home() / ".cache/kilngit-ci/kilnvenv/bin/python")
    parser.add_argument("--kiln-python", default=default_kiln if Path(default_kiln).is_file() else None)
    parser.add_argument(
        "--peak-only", action="store_true", help="only the full load's time and peak memory (and no demo)"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["floor", "no-cache", "cold", "warm"],
        help="leave out the read floor, the uncached figures (validate --no-cache, full load without cache), "
        "the cold validate (the cache a previous run filled is kept) or everything after the cold validate "
        "(warm commands, peak memory, the Kiln demo)",
    )
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; projects under {args.dir}")
    where = timed([sys.executable, "-c", "import kilngit; print(kilngit.__file__)"])[1].strip()
    print(f"kilngit measured: {where}")
    # Byte-compiled first, as installing it does (pip compiles a wheel's modules): a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every kilngit module again in every measured process.
    compiled = subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(where).parent)]).returncode
    print(f"kilngit byte-compiled: {'yes' if compiled == 0 else 'no (compileall failed)'}")
    for n in args.sizes:
        root = args.dir / f"p{n}"
        if not (root / "kilngit.yaml").exists():
            start = time.perf_counter()
            build(root, n)
            print(f"{n:>9}  {'build + git commit':<40} {time.perf_counter() - start:8.2f}", flush=True)
        if args.peak_only:
            peak_memory(root, Figures(n))
            continue
        results = measure(root, n, set(args.skip))
        floor = "read+json.loads (floor)"
        for name, what in (("validate --no-cache", "--no-cache"), ("validate, cold (empty cache)", "cold")):
            if name in results and floor in results:
                wall = results[name] / results[floor]
                cpu = results[f"{name} (CPU s)"] / results[f"{floor} (CPU s)"]
                print(f"{n:>9}  {what + ' / floor, wall and CPU':<40} {wall:7.2f}x {cpu:7.2f}x")
        if "warm" in args.skip:
            continue
        git = results["git status"]
        for name in ("validate", "status", "eval scores"):
            for what in ("edit", "rating", "verdict"):
                if f"{name}, warm (1 {what})" in results:
                    ratio = results[f"{name}, warm (1 {what})"] / git
                    label = f"{name}, warm (1 {what}) / git status"
                    print(f"{n:>9}  {label:<40} {ratio:7.2f}x", flush=True)
    if args.peak_only or "warm" in args.skip:
        return
    if args.demo.is_dir():
        results = demo(args.demo, args.kiln_python, args.dir)
        kiln = results.get("kiln-ai load of the original (in-process)")
        if kiln:
            warm = results["kilngit validate, warm (in-process)"]
            print(f"{'demo':>9}  {'kiln-ai load / warm validate':<40} {kiln / warm:7.1f}x")
    else:
        print(f"Kiln demo not found at {args.demo}: skipped")


if __name__ == "__main__":
    main()
