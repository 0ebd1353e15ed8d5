"""Kiln import and load times side by side: kilngit importing a Kiln project, kilngit loading the result
(every run, annotation and judge result of every eval) and validating it, and kiln-ai loading the original.

    python bench/kiln_import.py [SRC] [--repeat 3] [--kiln-python PYTHON] [--tmp DIR]

SRC defaults to ../shared/kiln_demo/end_to_end_project_demo (next to the repository). kiln-ai's load runs in
a subprocess with $KILN_PYTHON (or --kiln-python, or /work/scratch/kilnvenv/bin/python when present) and is
left out when none has kiln_ai. Each figure is the median of --repeat fresh runs; the OS page cache is warm.
The project is written under --tmp (default: the system temp folder; /dev/shm takes the disk out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit.kiln import import_kiln  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.validate import validate_project  # noqa: E402

DEMO = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"
LOADER = HERE.parent / "tests" / "kiln" / "load_with_kiln_ai.py"


def full_load(root: Path) -> tuple[float, dict[str, int]]:
    """Seconds to read every record kilngit has for every task (a fresh Project, no caches)."""
    start = time.perf_counter()
    project = Project(root)
    counts = {"runs": 0, "annotations": 0, "judge_results": 0}
    for task in project.tasks():
        counts["runs"] += len(project.runs(task))
        counts["annotations"] += len(project.annotations(task))
        for ev in project.evals(task):
            project.judges(task, ev)
            counts["judge_results"] += len(project.judge_results(task, ev))
        project.prompts(task), project.run_configs(task), project.splits(task), project.finetunes(task)
    return time.perf_counter() - start, counts


def kiln_load(python: str, src: Path) -> dict:
    proc = subprocess.run([python, str(LOADER), str(src)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEMO)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--kiln-python",
        default=os.environ.get("KILN_PYTHON")
        or (
            "/work/scratch/kilnvenv/bin/python"
            if Path("/work/scratch/kilnvenv/bin/python").is_file()
            else None
        ),
    )
    parser.add_argument("--tmp", type=Path, default=None, help="Where to write the imported projects.")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {
        "kilngit import": [],
        "kilngit re-import (no changes)": [],
        "kilngit full load": [],
        "kilngit validate": [],
    }
    counts: dict[str, int] = {}
    files = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="kiln-bench-", dir=args.tmp) as tmp:
            root = Path(tmp) / "proj"
            report = import_kiln(args.src, root)
            rows["kilngit import"].append(report.seconds)
            rows["kilngit re-import (no changes)"].append(import_kiln(args.src, root).seconds)
            seconds, counts = full_load(root)
            rows["kilngit full load"].append(seconds)
            validation = validate_project(root)
            assert validation.ok, validation.errors[:3]
            rows["kilngit validate"].append(validation.seconds)
            files = validation.files
            shutil.rmtree(root)
    kiln = None
    if args.kiln_python:
        loads = [kiln_load(args.kiln_python, args.src) for _ in range(args.repeat)]
        kiln = {
            "import kiln_ai": statistics.median(r["import_seconds"] for r in loads),
            "load": statistics.median(r["load_seconds"] for r in loads),
        }
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; projects under "
        f"{args.tmp or tempfile.gettempdir()}"
    )
    print(
        f"source: {args.src} ({report.files_read} Kiln files) -> {files} kilngit files: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
    )
    print(f"{'step':<34}{'seconds (median of ' + str(args.repeat) + ')':>24}")
    for name, values in rows.items():
        print(f"{name:<34}{statistics.median(values):>24.2f}")
    print(
        f"{'kilngit full load + validate':<34}"
        f"{statistics.median(rows['kilngit full load']) + statistics.median(rows['kilngit validate']):>24.2f}"
    )
    if kiln:
        print(
            f"{'kiln-ai load of the original':<34}{kiln['load']:>24.2f}   (+{kiln['import kiln_ai']:.2f}s to "
            "import kiln_ai)"
        )
    else:
        print("kiln-ai load of the original: skipped (set KILN_PYTHON to a python that has kiln_ai)")


if __name__ == "__main__":
    main()
