"""Server time of each page of `kilngit serve`, on the imported Kiln demo and on a generated 100k-run project.

    python bench/serve_pages.py                      # both projects
    python bench/serve_pages.py --runs 100000 --keep /dev/shm/serve100k --skip-demo

Requests go through the real app in process (Starlette's test client); the figure is the `Server-Timing`
the app itself reports (handler, template and fresh-read check; not the client). Each page is asked for
`--repeat` times after a first request, reported apart: the first computes what the server then keeps
until something changes (a filter's sorted runs, a comparison, eval results); the very first request loads
the project. The label round trip is one POST that saves a rating and renders the next item.
Generated projects: `bench/validate_scale.py`'s (70% runs, 20% annotations by two raters, 10% judge results).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from starlette.testclient import TestClient  # noqa: E402

from kilngit.project import Project  # noqa: E402
from kilngit.serve.app import create_app  # noqa: E402

DEMO = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"
TOKEN = "bench-token-0123456789"


def server_ms(response) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU) milliseconds the server reports for a request."""
    assert response.status_code == 200, (response.status_code, response.text[:300])
    wall, cpu = re.findall(r"dur=([\d.]+)", response.headers["server-timing"])
    return float(wall), float(cpu)


Row = tuple[str, float, float, float, float, float]


def summary(name: str, first: tuple[float, float], times: list[tuple[float, float]]) -> Row:
    """(page, first request ms, its CPU ms, then median ms, max ms, median CPU ms)."""
    return (
        name,
        first[0],
        first[1],
        statistics.median(t[0] for t in times),
        max(t[0] for t in times),
        statistics.median(t[1] for t in times),
    )


def pages(project: Project, task: str) -> dict[str, str]:
    runs = sorted(project.runs(task))
    middle = runs[len(runs) // 2]
    evals = list(project.evals(task))
    out = {
        "project": "/",
        "runs (all)": f"/t/{task}/runs",
        "runs (filter tag & !rated)": f"/t/{task}/runs?q=" + ("tag::eval_set %26 !rated"),
        "runs (sorted by cost, page 20)": f"/t/{task}/runs?sort=cost&desc=1&page=20",
        "run": f"/t/{task}/runs/{middle}",
        "label (next item)": f"/t/{task}/label",
        "compare": f"/t/{task}/compare" + (f"?eval={evals[0]}" if evals else ""),
        "evals (report sections)": "/evals",
        "review HEAD..HEAD": "/review?base=HEAD&head=HEAD",
    }
    return out


def bench(root: Path, repeat: int) -> list[Row]:
    project = Project(root)
    task = next(iter(project.tasks()))
    client = TestClient(create_app(project, {TOKEN: "bench@example.com"}), base_url="http://127.0.0.1")
    client.get(f"/signin?token={TOKEN}", follow_redirects=False)
    cold = server_ms(client.get(f"/t/{task}/runs"))
    rows = [summary("load the project (first runs page)", cold, [cold])]
    for name, path in pages(project, task).items():
        first = server_ms(client.get(path))  # computes what later requests find kept
        rows.append(summary(name, first, [server_ms(client.get(path)) for _ in range(repeat)]))
    label = client.get(f"/t/{task}/label").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', label).group(1)  # type: ignore[union-attr]
    times = []
    for _ in range(repeat + 1):
        run_id = re.search(r'data-run="([0-9a-f]{16})"', label).group(1)  # type: ignore[union-attr]
        response = client.post(
            f"/t/{task}/label/rate",
            data={"csrf": csrf, "run": run_id, "overall": "pass", "seconds": "2"},
            headers={"hx-request": "true"},
        )
        times.append(server_ms(response))
        label = response.text
    rows.append(summary("label round trip (save + next item)", times[0], times[1:]))
    times = [
        server_ms(client.post(f"/t/{task}/label/undo", data={"csrf": csrf}, headers={"hx-request": "true"}))
        for _ in range(repeat + 1)
    ]
    rows.append(summary("undo", times[0], times[1:]))
    return rows


def show(title: str, rows: list[Row]) -> None:
    load = os.getloadavg()[0]
    print(
        f"\n{title} (load average {load:.1f} on {os.cpu_count()} CPUs)\n"
        "| page | first ms | first CPU ms | then median ms | max ms | median CPU ms |\n|---|---:|---:|---:|---:|---:|"
    )
    for name, first, first_cpu, median, worst, cpu in rows:
        print(f"| {name} | {first:.0f} | {first_cpu:.0f} | {median:.1f} | {worst:.1f} | {cpu:.1f} |")


def import_demo(folder: Path) -> Path:
    from kilngit.kiln import import_kiln

    root = folder / "demo"
    if not (root / "kilngit.yaml").is_file():
        env = dict(
            GIT_AUTHOR_NAME="bench",
            GIT_AUTHOR_EMAIL="bench@example.com",
            GIT_COMMITTER_NAME="bench",
            GIT_COMMITTER_EMAIL="bench@example.com",
        )
        os.environ.update(env)
        import_kiln(DEMO, root)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the generated project")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the generated project here")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    folder = Path(
        tempfile.mkdtemp(prefix="kilngit-serve-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    )
    if not args.skip_demo and (DEMO / "project.kiln").is_file():
        show("Kiln demo (imported)", bench(import_demo(folder), args.repeat))
    big = args.keep or folder / "big"
    if not (big / "kilngit.yaml").is_file():
        from validate_scale import build

        started = time.perf_counter()
        build(big, int(args.runs / 0.7))
        print(f"built {args.runs} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    show(f"generated project, {args.runs} runs", bench(big, args.repeat))


if __name__ == "__main__":
    main()
