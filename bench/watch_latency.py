"""Latency of `kilngit watch` from a file save to its commit, and the commits a 10,000-file burst makes.

    python bench/watch_latency.py [--saves 50] [--burst 10000] [--quiet 1.5] [--max-wait 10] [--keep DIR]

Saves are editor-style (temp file, rename), one at a time: each is timed from the rename to the moment HEAD
moves to a commit holding the file (the branch ref is polled every 2 ms). The burst writes half runs, half
annotations, as fast as a script can, and counts the commits until everything is committed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import time
from pathlib import Path

from _watch_project import (
    annotation_record,
    clean_up,
    git,
    make_project,
    run_record,
    save_like_an_editor,
    start_watcher,
    write_raw,
)

from kilngit import layout


def wait_for_commit(root: Path, rel: str, timeout: float = 60.0) -> float:
    """Poll the branch ref until HEAD holds `rel`; returns the time HEAD moved (monotonic)."""
    ref = root / ".git/refs/heads/main"
    last = ref.stat().st_mtime_ns
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mtime = ref.stat().st_mtime_ns
        if mtime != last:
            seen = time.monotonic()
            last = mtime
            if git(root, "ls-tree", "--name-only", "HEAD", "--", rel):
                return seen
        time.sleep(0.002)
    raise SystemExit(f"no commit of {rel} within {timeout}s")


def latency(root: Path, saves: int) -> list[float]:
    base = run_record("latency base")
    write_raw(root, [base])
    wait_for_commit(root, layout.run_file("t", base.id))
    out = []
    for i in range(saves):
        # alternate new runs and edits of one annotation file (pass, fail, pass...)
        record = (
            run_record(f"latency {i}") if i % 2 == 0 else annotation_record(base, value=float(i // 2 % 2))
        )
        start = time.monotonic()
        rel = save_like_an_editor(root, record)
        out.append(wait_for_commit(root, rel) - start)
    return out


def burst(root: Path, n: int) -> dict[str, float]:
    runs = [run_record(f"burst {i}") for i in range(n // 2)]
    records = runs + [annotation_record(r) for r in runs]
    before = int(git(root, "rev-list", "--count", "HEAD"))
    start = time.monotonic()
    write_raw(root, records)
    written = time.monotonic() - start
    while git(root, "status", "--porcelain", "--untracked-files=all", "--", "tasks"):
        time.sleep(0.1)
    done = time.monotonic() - start
    return {
        "files": len(records),
        "commits": int(git(root, "rev-list", "--count", "HEAD")) - before,
        "write_seconds": round(written, 2),
        "all_committed_seconds": round(done, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--quiet", default="1.5", help="--quiet given to the watcher (seconds)")
    parser.add_argument("--max-wait", default="10", help="--max-wait given to the watcher (seconds)")
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    args = parser.parse_args()
    root = make_project(args.keep)
    watcher, log = start_watcher(root, "--no-jobs", "--quiet", args.quiet, "--max-wait", args.max_wait)
    try:
        times = latency(root, args.saves)
        result = {
            "quiet_s": float(args.quiet),
            "saves": len(times),
            "median_s": round(statistics.median(times), 3),
            "worst_s": round(max(times), 3),
            "best_s": round(min(times), 3),
            "burst": burst(root, args.burst) if args.burst else None,
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(60)
    print(json.dumps(result, indent=2))
    print(
        f"save -> commit: median {result['median_s']}s, worst {result['worst_s']}s over {len(times)} saves "
        f"(quiet window {args.quiet}s)"
    )
    if result["burst"]:
        b = result["burst"]
        print(
            f"burst of {b['files']} files: {b['commits']} commit(s); written in {b['write_seconds']}s, "
            f"all committed {b['all_committed_seconds']}s after the first write"
        )
    clean_up(root, args.keep, log)


if __name__ == "__main__":
    main()
