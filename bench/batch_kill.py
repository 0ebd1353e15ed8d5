"""`run task --batch` through the loopback Batch API with `kill -9` at random moments: nothing lost, nothing
duplicated, nothing submitted twice.

    python bench/batch_kill.py [--requests 10000] [--kills 8] [--max-pause 10] [--max-per-batch 2500] [--seed 1]

A fresh project with N distinct inputs; the real CLI is started, killed with SIGKILL after a random pause
(0.2 s to `--max-pause`), and started again, `--kills` times; then one run goes to the end. Prints the phase each kill hit (from the job records), and counts:
lost (inputs without a run), duplicated (extra runs of an input), submitted twice (requests that were part of
more than one created batch), uploads, batches created and requests asked online.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit import layout  # noqa: E402
from kilngit.authoring import new_task  # noqa: E402
from kilngit.init import init_project  # noqa: E402
from kilngit.providers.batch_jobs import BATCH_DIR  # noqa: E402
from kilngit.records import RunConfig  # noqa: E402
from kilngit.testing.fake_openai import FakeOpenAI  # noqa: E402


def make_project(root: Path, n: int, name: str) -> Path:
    project = init_project(root, name=name)
    new_task(project, "t", "Turn a request into a single ffmpeg command.")
    project.write_definition(
        layout.run_config_file("t", "b"), RunConfig(provider="bench", model="gpt-4o-mini", prompt="default")
    )
    path = root.parent / f"{name}.jsonl"
    path.write_text("".join(json.dumps(f"convert clip {i} to mp4") + "\n" for i in range(n)))
    return path


def command(root: Path, inputs: Path) -> list[str]:
    return [sys.executable, "-m", "kilngit", "-C", str(root), "run", "task", "t", "--config", "b"] + [
        "--inputs",
        str(inputs),
        "--batch",
        "--no-progress",
    ]


def timed_run(root: Path, inputs: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command(root, inputs), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def phases(root: Path) -> str:
    jobs = [json.loads(p.read_bytes()) for p in (root / BATCH_DIR).glob("*.json")]
    return ",".join(sorted(str(j.get("status")) for j in jobs)) or "no job yet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--max-pause", type=float, default=10.0)
    ap.add_argument("--max-per-batch", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as srv:
        config = Path(tmp) / "providers.yaml"
        options = {"batch_poll_seconds": 0.05, "batch_max_requests": args.max_per_batch}
        config.write_text(
            json.dumps({"providers": {"bench": {"base_url": srv.base_url, "options": options}}})
        )
        os.environ.update(
            {
                "KILNGIT_CONFIG": str(config),
                "KILNGIT_PROVIDER_BENCH_API_KEY_ENV": "",
                "KILNGIT_TRUST": "always",
            }
        )
        root = Path(tmp) / "proj"
        inputs = make_project(root, args.requests, "proj")
        for k in range(args.kills):
            proc = subprocess.Popen(
                command(root, inputs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            pause = rng.uniform(0.2, args.max_pause)
            try:
                proc.wait(pause)
                print(f"run {k + 1}: ended before its kill at {pause:.1f}s (exit {proc.returncode})")
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                made = sum(1 for _ in (root / "tasks/t/runs").rglob("*.json"))
                print(f"run {k + 1}: killed after {pause:.1f}s; job records: {phases(root)}; runs {made}")
        final = timed_run(root, inputs)
        runs = Counter(json.loads(p.read_bytes())["input"] for p in (root / "tasks/t/runs").rglob("*.json"))
        counts = srv.counts
        lost = args.requests - len(runs)
        duplicated = sum(runs.values()) - len(runs)
        twice = sum(1 for n in srv.batch.submitted.values() if n > 1)
        print(f"final run: {final:.1f}s")
        print(
            f"requests {args.requests}: lost {lost}, duplicated {duplicated}, submitted twice {twice}; "
            f"uploads {counts['files.create']}, batches created {counts['batches.create']}, "
            f"asked online {counts['chat.completions']}"
        )
        raise SystemExit(1 if lost or duplicated or twice else 0)


if __name__ == "__main__":
    main()
