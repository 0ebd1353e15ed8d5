"""Throughput of the example's execution judge (`correctness` / `exec`, which runs each answer with ffmpeg in
the sandbox) on this machine's process pool and on a local Ray instance, side by side, same inputs.

    .venv/bin/python bench/ray_exec.py [--rounds N] [--cpus N]

Each measurement judges every run (120) of a fresh copy of the example with no results yet, through
`run_eval` with `--concurrency` equal to the CPUs, once per executor and round, the executors alternating
so a busy machine slows both alike. Ray is started once (`ray.init(num_cpus=N)`, its start-up time printed
apart and not counted); each Ray measurement includes starting its judge slots (actors), as every
`run eval --executor ray` does. The results of the two executors are compared file by file.

Measured on the 2-core development machine (shared with other work), Ray 2.60, `--rounds 2 --cpus 2`:

    judge    executor       judgements  seconds  judgements/s  rounds (s)
    trivial  process pool          120     3.72         32.23  3.2, 4.3
    trivial  ray (local)           120     7.97         15.05  7.4, 8.5
    exec     process pool          120   200.27          0.60  208.9, 191.7
    exec     ray (local)           120   206.70          0.58  193.2, 220.2
    trivial: ray / process pool throughput 0.47x; same result files from both: True (120 files)
    exec: ray / process pool throughput 0.97x; same result files from both: True (120 files)

(local Ray start-up: 20.5 s, not counted). A trivial judge shows Ray's own cost, about 35 ms more per
judgement on this machine (a remote call per judgement, starting the slots); the execution judge (1.7 s
per judgement, ffmpeg) hides it within the noise.

On one machine Ray adds a scheduling hop per judgement and a process per slot on the same cores, so it does
not win; what it buys is more cores than one machine has (each worker node adds its CPUs to the slots).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import EVAL, TASK, example_copy  # noqa: E402

from kilngit.evals.executors.base import Executor  # noqa: E402
from kilngit.evals.executors.local import LocalExecutor  # noqa: E402
from kilngit.evals.executors.ray_cluster import RayExecutor  # noqa: E402
from kilngit.evals.runner import run_eval  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.sandbox import probe  # noqa: E402


def judge_all(parent: Path, judge: str, executor: Executor, cpus: int) -> tuple[float, int, dict[str, bytes]]:
    """Seconds to judge every run of a fresh copy with `judge`, judgements made, and the result files."""
    root = example_copy(parent)
    start = time.perf_counter()
    summary = run_eval(
        Project(root), TASK, EVAL, judges=[judge], progress=False, concurrency=cpus, executor=executor
    )
    seconds = time.perf_counter() - start
    tally = summary.judges[judge]
    assert not summary.fatal and not tally.not_recorded, (summary.fatal, dict(tally.not_recorded))
    files = {
        p.name: p.read_bytes() for p in (root / "tasks" / TASK / "evals" / EVAL / "results").rglob("*.json")
    }
    shutil.rmtree(root)
    return seconds, tally.scored + sum(tally.errors.values()), files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=1, help="measurements per executor (the median is shown)"
    )
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray instance"
    )
    args = parser.parse_args()
    if probe():
        sys.exit(f"no sandbox here: {probe()}")
    import ray

    os.environ["KILNGIT_TRUST"] = "always"  # the bench's own copies of the example
    started = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, object_store_memory=100 << 20)
    print(
        f"ray {ray.__version__}: local instance with {args.cpus} CPUs started in "
        f"{time.perf_counter() - started:.1f}s (not counted)"
    )
    executors: dict[str, Executor] = {"process pool": LocalExecutor(), "ray (local)": RayExecutor()}
    times: dict[tuple[str, str], list[float]] = {}
    made: dict[tuple[str, str], dict[str, bytes]] = {}
    count: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="kilngit-bench-ray-") as tmp:
            for judge in ("trivial", "exec"):
                for _ in range(args.rounds):
                    for name, executor in executors.items():
                        seconds, count[judge], files = judge_all(Path(tmp), judge, executor, args.cpus)
                        times.setdefault((judge, name), []).append(seconds)
                        made.setdefault((judge, name), files)
                        executor.close()  # the next one starts its Ray slots again, as a new command does
    finally:
        ray.shutdown()
    print(f"{'judge':8} {'executor':14} {'judgements':>10} {'seconds':>8} {'judgements/s':>13}  rounds (s)")
    for (judge, name), measured in times.items():
        seconds = statistics.median(measured)
        rounds = ", ".join(f"{t:.1f}" for t in measured)
        print(
            f"{judge:8} {name:14} {count[judge]:10d} {seconds:8.2f} {count[judge] / seconds:13.2f}  {rounds}"
        )
    for judge in count:
        local, remote = (statistics.median(times[judge, name]) for name in executors)
        same = made[judge, "process pool"] == made[judge, "ray (local)"]
        print(
            f"{judge}: ray / process pool throughput {local / remote:.2f}x; "
            f"same result files from both: {same} ({len(made[judge, 'process pool'])} files)"
        )


if __name__ == "__main__":
    main()
