"""`run task --batch` (or, with `--eval`, `run eval --batch` of an LLM judge) through the loopback Batch API
with `kill -9` at random moments: nothing lost, nothing duplicated, nothing submitted twice.

    python bench/batch_kill.py [--eval] [--requests 10000] [--kills 8] [--max-pause 10] [--max-per-batch 2500]
                               [--seed 1]

A fresh project with N distinct inputs (with `--eval`: N runs in an eval set, judged by one LLM judge); the real
CLI is started, killed with SIGKILL after a random pause (0.2 s to `--max-pause`), and started again, `--kills`
times; then one run goes to the end. Prints the phase each kill hit (from the job records), and counts: lost
(inputs without a run, or runs without a judge result), duplicated (extra runs of an input, extra results of a
run), submitted twice (requests that were part of more than one created batch), uploads, batches created and
requests asked online.
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
from kilngit.records import Eval, Judge, RunConfig, Source, TaskRun  # noqa: E402
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


def make_eval_project(root: Path, n: int, name: str) -> None:
    """N answered runs in the eval set of eval `e`, whose one judge is an LLM judge on provider `bench`."""
    project = init_project(root, name=name)
    new_task(project, "t", "Turn a request into a single ffmpeg command.")
    human = Source(type="human", created_by="bench@example.com")
    for i in range(n):
        project.write_record(
            TaskRun(
                task="t",
                input=f"convert clip {i} to mp4",
                input_source=human,
                output=f"ffmpeg -i clip{i}.mov clip{i}.mp4",
                output_source=human,
                tags=["eval_set"],
            ).with_id()
        )
    scores = [{"name": "correct", "instruction": "The command does what was asked."}]
    project.write_definition(layout.eval_file("t", "e"), Eval(name="e", scores=scores, default_judge="llm"))
    project.write_definition(
        layout.judge_file("t", "e", "llm"), Judge(type="llm_as_judge", provider="bench", model="gpt-4o-mini")
    )


def command(root: Path, inputs: Path | None) -> list[str]:
    base = [sys.executable, "-m", "kilngit", "-C", str(root), "run"]
    if inputs is None:
        return [*base, "eval", "e", "--batch", "--no-progress"]
    return [*base, "task", "t", "--config", "b", "--inputs", str(inputs), "--batch", "--no-progress"]


def made(root: Path, judged: bool) -> list[dict]:
    folder = root / ("tasks/t/evals/e/results" if judged else "tasks/t/runs")
    return [json.loads(p.read_bytes()) for p in folder.rglob("*.json")] if folder.exists() else []


def timed_run(root: Path, inputs: Path | None) -> float:
    start = time.perf_counter()
    subprocess.run(command(root, inputs), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def phases(root: Path) -> str:
    folder = root / BATCH_DIR
    jobs = [json.loads(p.read_bytes()) for p in [*folder.glob("*.json"), *folder.glob("ended/*.json")]]
    return ",".join(sorted(str(j.get("status")) for j in jobs)) or "no job yet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--max-pause", type=float, default=10.0)
    ap.add_argument("--max-per-batch", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval", action="store_true", help="run eval --batch of an LLM judge instead")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    verdict = json.dumps({"reasoning": "it converts the clip", "correct": "pass"})
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAI(responder=(lambda body: verdict) if args.eval else None) as srv,
    ):
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
        inputs: Path | None = None
        if args.eval:
            make_eval_project(root, args.requests, "proj")
        else:
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
                done = len(made(root, args.eval))
                what = "results" if args.eval else "runs"
                print(f"run {k + 1}: killed after {pause:.1f}s; job records: {phases(root)}; {what} {done}")
        final = timed_run(root, inputs)
        runs = Counter(r["run"] if args.eval else r["input"] for r in made(root, args.eval))
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
