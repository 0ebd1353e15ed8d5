"""Throughput of `run_inputs` (prompt building, the real `openai` client, retries machinery, one atomic run file per
answer) against the loopback fake server answering each request after a fixed latency.

    python bench/run_throughput.py [--requests 2000] [--latency 0.05] [--concurrency 8 32 128] [--repeat N]
                                   [--provider-only]

For each concurrency: a fresh project, N distinct inputs, one batch; reports requests/second and the ratio to
the ideal (concurrency / latency), the server's peak of requests in flight, and per request the CPU time of
the client (this process and its record writer process), of its event-loop thread alone (the bottleneck), and
of the server process. The SDK is imported once before the first batch, as a one-time cost of the process.
CPU times vary less than wall times with what else the machine is doing. `--provider-only` times bare
`provider.complete` calls instead (no prompt building, no run files), to separate client from kilngit costs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit import layout  # noqa: E402
from kilngit.authoring import new_task  # noqa: E402
from kilngit.init import init_project  # noqa: E402
from kilngit.providers import ChatRequest, get_provider  # noqa: E402
from kilngit.records import RunConfig, Source  # noqa: E402
from kilngit.runner import RunInput, run_inputs_async  # noqa: E402
from kilngit.testing.fake_openai import FakeOpenAI  # noqa: E402


def configure(base_url: str) -> None:
    os.environ.update(
        {
            "KILNGIT_PROVIDER_BENCH_BASE_URL": base_url,
            "KILNGIT_PROVIDER_BENCH_API_KEY_ENV": "",
            "KILNGIT_CONFIG": os.devnull,
            "KILNGIT_CACHE": "off",
        }
    )


def serve(latency: float, conn: Connection) -> None:
    """Child process: run the fake server until told to stop, reporting its URL and peak load."""
    with FakeOpenAI(latency=latency) as server:
        conn.send(server.base_url)
        cpu = time.process_time()
        while conn.recv() == "reset":
            conn.send((server.peak_in_flight, time.process_time() - cpu))
            server.reset_stats()
            cpu = time.process_time()


async def pipeline(root: Path, n: int, concurrency: int) -> float:
    project = init_project(root, name="bench")
    new_task(project, "t", "Turn a request into a single ffmpeg command.")
    project.write_definition(
        layout.run_config_file("t", "bench"),
        RunConfig(provider="bench", model="gpt-4o-mini", prompt="default", temperature=0),
    )
    source = Source(type="file_import", file="bench.jsonl")
    inputs = [RunInput(f"convert clip number {i} to mp4", source) for i in range(n)]
    start = time.perf_counter()
    summary = await run_inputs_async(project, "t", "bench", inputs, concurrency=concurrency, progress=False)
    seconds = time.perf_counter() - start
    assert summary.succeeded == n, summary.lines()
    return seconds


async def provider_only(n: int, concurrency: int) -> float:
    provider = get_provider("bench")
    jobs = iter(range(n))

    async def worker() -> None:
        for i in jobs:
            await provider.complete(
                ChatRequest(model="gpt-4o-mini", messages=({"role": "user", "content": f"request {i}"},))
            )

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    await provider.aclose()
    return seconds


def client_cpu() -> float:
    """CPU seconds of this process and of its finished children (the record writer processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--repeat", type=int, default=1, help="measure each concurrency this many times")
    parser.add_argument("--provider-only", action="store_true")
    args = parser.parse_args()
    import openai  # noqa: F401  (once per process, ~0.5 s: not part of any batch's figures)

    what = "provider.complete only" if args.provider_only else "run_inputs (runs written)"
    print(f"{args.requests} requests, {args.latency * 1000:g} ms latency, {what}")
    print(
        f"{'concurrency':>11} {'seconds':>8} {'req/s':>8} {'ideal':>8} {'ratio':>6} {'peak':>5} "
        f"{'cpu ms':>9} {'loop ms':>9} {'server ms':>10}"
    )
    # The server runs in its own process, like a real endpoint: it does not compete with the client for the GIL.
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.latency, theirs), daemon=True
    )
    child.start()
    configure(ours.recv())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n, c in enumerate(c for c in args.concurrency for _ in range(args.repeat)):
                cpu, loop_cpu = client_cpu(), time.thread_time()
                if args.provider_only:
                    seconds = asyncio.run(provider_only(args.requests, c))
                else:
                    seconds = asyncio.run(pipeline(Path(tmp) / f"{n}", args.requests, c))
                cpu_ms = (client_cpu() - cpu) * 1000 / args.requests
                loop_ms = (time.thread_time() - loop_cpu) * 1000 / args.requests
                ours.send("reset")
                peak, server_cpu = ours.recv()
                server_ms = server_cpu * 1000 / args.requests
                rate = args.requests / seconds
                ideal = c / args.latency
                print(
                    f"{c:>11} {seconds:>8.2f} {rate:>8.0f} {ideal:>8.0f} {rate / ideal:>6.0%} {peak:>5} "
                    f"{cpu_ms:>9.2f} {loop_ms:>9.2f} {server_ms:>10.2f}"
                )
    finally:
        ours.send("stop")
        child.join(5)


if __name__ == "__main__":
    main()
