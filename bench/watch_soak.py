"""Soak `kilngit watch --sync` for a while and watch its resident memory (not run in CI).

    python bench/watch_soak.py [--minutes 60] [--rate 5] [--sample 10] [--mode grow|steady] [--keep DIR]

A writer saves `--rate` records a second (new runs tagged for an auto-run eval, and ratings of them), so the
watcher keeps validating, committing, pushing to a local bare remote and running the eval job in the
background. The watcher's RSS (the daemon only; jobs are child processes) is sampled every `--sample`
seconds; the report gives the first sample after a one-minute warm-up (or the first sample on shorter
runs) and the last, and the slope of a least-squares line through the warm samples.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from pathlib import Path

from _watch_project import (
    annotation_record,
    clean_up,
    git,
    make_project,
    rss_kib,
    run_record,
    save_like_an_editor,
    start_watcher,
)


def add_auto_eval(root: Path) -> None:
    from kilngit import layout
    from kilngit.project import Project
    from kilngit.records import Eval, Judge

    project = Project(root)
    project.write_definition(
        layout.eval_file("t", "soak"),
        Eval(
            name="soak",
            scores=[{"name": "ok", "instruction": "Is it an ffmpeg command?"}],
            eval_set="tag::soak",
            default_judge="has-ffmpeg",
            auto_run=True,
        ),
    )
    project.write_definition(
        layout.judge_file("t", "soak", "has-ffmpeg"), Judge(type="contains", score="ok", pattern="ffmpeg")
    )


def slope_kib_per_hour(samples: list[tuple[float, int]]) -> float:
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(r for _, r in samples) / n
    var = sum((t - mx) ** 2 for t, _ in samples)
    return 0.0 if var == 0 else sum((t - mx) * (r - my) for t, r in samples) / var * 3600


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5.0, help="records saved per second")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument(
        "--mode",
        choices=("grow", "steady"),
        default="grow",
        help="grow: every save is a new run and rating; steady: re-rate a pool of --pool runs",
    )
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    root = make_project(args.keep)
    add_auto_eval(root)
    watcher, log = start_watcher(root, "--sync", "--sync-interval", "30", "--job-cooldown", "20")
    start = time.monotonic()
    end = start + args.minutes * 60
    samples: list[tuple[float, int]] = []
    next_sample = start
    saved = 0
    try:
        while time.monotonic() < end:
            # grow: new runs and their ratings; steady: re-rate a fixed pool (the project stops growing)
            n = saved // 2 if args.mode == "grow" else saved // 2 % args.pool
            run = run_record(f"soak {n}", tags=("soak",))
            save_like_an_editor(root, run)
            save_like_an_editor(root, annotation_record(run, value=float(saved // 2 // args.pool % 2)))
            saved += 2
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - start, rss_kib(watcher.pid)))
                next_sample += args.sample
                print(
                    f"{(now - start) / 60:6.1f} min  rss {samples[-1][1] / 1024:7.1f} MiB  saved {saved}",
                    flush=True,
                )
            time.sleep(max(0.0, 2 / args.rate - (time.monotonic() - now)))
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(120)
    warm = [s for s in samples if s[0] >= 60] or samples
    result = {
        "minutes": args.minutes,
        "mode": args.mode,
        "records_saved": saved,
        "runs": len(list((root / "tasks/t/runs").rglob("*.json"))),
        "commits": int(git(root, "rev-list", "--count", "HEAD")),
        "pushed": git(root, "rev-parse", "HEAD") == git(root, "rev-parse", "origin/main"),
        "rss_mib_start": round(warm[0][1] / 1024, 1),
        "rss_mib_end": round(warm[-1][1] / 1024, 1),
        "rss_mib_max": round(max(r for _, r in warm) / 1024, 1),
        "rss_slope_mib_per_hour": round(slope_kib_per_hour(warm) / 1024, 2),
        "judge_results": len(list((root / "tasks/t/evals/soak/results").rglob("*.json"))),
    }
    print(json.dumps(result, indent=2))
    clean_up(root, args.keep, log)


if __name__ == "__main__":
    main()
