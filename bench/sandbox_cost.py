"""What the sandbox costs per judgement: the example's execution eval (120 runs of `correctness`, judge `exec`,
which runs ffmpeg for each) with and without the bubblewrap sandbox, and a trivial code judge (returns at once)
that isolates the sandbox's own overhead.

    .venv/bin/python bench/sandbox_cost.py [--rounds N] [--skip-exec]

Each measurement judges every run of a fresh copy of the example (no results yet), with `run eval`'s default
concurrency (one worker per CPU core). Figures are wall-clock seconds; on a busy machine compare the two
columns of one invocation, not runs across time.
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

from kilngit.evals.runner import run_eval  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.sandbox import probe  # noqa: E402


def judge_all(parent: Path, judge: str, sandboxed: bool) -> tuple[float, int]:
    """Seconds to judge every run of a fresh copy with `judge`, and how many judgements were made."""
    os.environ["KILNGIT_UNSANDBOXED"] = "0" if sandboxed else "1"
    root = example_copy(parent)
    start = time.perf_counter()
    summary = run_eval(Project(root), TASK, EVAL, judges=[judge], progress=False, cache="replay")
    seconds = time.perf_counter() - start
    tally = summary.judges[judge]
    assert not tally.errors, (judge, sandboxed, dict(tally.errors), tally.examples)
    shutil.rmtree(root)
    return seconds, tally.scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="measurements per cell (the median is shown)")
    parser.add_argument("--skip-exec", action="store_true", help="only the trivial judge")
    args = parser.parse_args()
    problem = probe()
    if problem:
        sys.exit(f"no sandbox here: {problem}")
    os.environ["KILNGIT_TRUST"] = "always"  # the bench's own copies of the example
    judges = ["trivial"] + ([] if args.skip_exec else ["exec"])
    print(f"{'judge':8} {'mode':12} {'runs':>5} {'seconds':>8} {'ms/judgement':>13}")
    with tempfile.TemporaryDirectory(prefix="kilngit-bench-sandbox-") as tmp:
        for judge in judges:
            per: dict[bool, float] = {}
            for sandboxed in (False, True):
                times = []
                for _ in range(args.rounds):
                    seconds, n = judge_all(Path(tmp), judge, sandboxed)
                    times.append(seconds)
                per[sandboxed] = statistics.median(times)
                mode = "sandboxed" if sandboxed else "unsandboxed"
                print(f"{judge:8} {mode:12} {n:5d} {per[sandboxed]:8.2f} {per[sandboxed] / n * 1000:13.1f}")
            print(
                f"{judge:8} {'sandbox cost':12} {'':5} {per[True] - per[False]:8.2f} "
                f"{(per[True] - per[False]) / n * 1000:13.1f}"
            )


if __name__ == "__main__":
    main()
