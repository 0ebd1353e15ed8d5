"""Measure `kilngit audit`: recall and precision on a synthetic project with planted wrong labels, and the top
suspects of the imported Kiln demo with their reasons (when the demo is there).

    python bench/audit_recall.py [--seeds 5] [--demo PATH] [--top 10] [--with-exec]

The synthetic project (tests/evals/audit_synthetic.py) plants a careless burst, a rater who follows the
generation session and quiet flips; the planted labels are the golden runs whose consensus differs from the
truth. `--with-exec` also attaches the example's execution judge (example_project/judges) to the demo's
correctness eval as judge `exec` and runs it on the golden set first (minutes: it runs every command), so
the audit has execution evidence too. Nothing here is fitted to the demo's labels: they are the thing under
suspicion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")

from kilngit import layout  # noqa: E402
from kilngit.evals.audit import audit_eval  # noqa: E402
from kilngit.evals.runner import run_eval  # noqa: E402
from kilngit.kiln import import_kiln  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.records import Judge  # noqa: E402
from tests.evals.audit_synthetic import EVAL, build, score  # noqa: E402

DEMO = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"


def synthetic(seeds: int) -> None:
    print("synthetic project: 120 golden runs, 4 judges, 3 raters")
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            made = build(Path(tmp) / "proj", seed=seed)
            started = time.perf_counter()
            report = audit_eval(made.project, None, EVAL)
            seconds = time.perf_counter() - started
            flagged = [s.run for s in report.suspects if s.consensus is not None]
            recall, precision = score(flagged, made.planted)
            top = [s.run for s in report.items if s.consensus is not None][: len(made.planted)]
            top_recall, top_precision = score(top, made.planted)
            print(
                f"  seed {seed}: {len(made.planted)} planted, {len(flagged)} flagged (+{len(made.disputed)} split); "
                f"P>=0.5 recall {recall:.2f} precision {precision:.2f}; top-{len(top)} recall {top_recall:.2f} "
                f"precision {top_precision:.2f}; audit {seconds:.2f}s"
            )


def attach_exec(project: Project, task: str, eval_slug: str) -> None:
    """The example's execution judge on the demo's golden set (the eval set pointed at it, as
    bench/exec_judge_demo.py does, so only golden items are run)."""
    shutil.copytree(HERE.parent / "example_project" / "judges", project.root / "judges")
    ev = project.evals(task)[eval_slug]
    project.write_definition(
        layout.eval_file(task, eval_slug), ev.model_copy(update={"eval_set": ev.golden_set})
    )
    project.write_definition(
        layout.judge_file(task, eval_slug, "exec"),
        Judge(type="code", function="judges.ffmpeg_exec:judge", timeout_s=900),
    )
    started = time.perf_counter()
    summary = run_eval(Project(project.root), task, eval_slug, judges=["exec"], progress=False)
    print("\n".join(summary.lines()) + f"\n(execution judge: {time.perf_counter() - started:.0f}s)")


def demo(path: Path, top: int, with_exec: bool = False) -> None:
    if not (path / "project.kiln").is_file():
        print(f"Kiln demo not found at {path}; skipped")
        return
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None) as tmp:
        import_kiln(path, Path(tmp) / "demo")
        project = Project(Path(tmp) / "demo")
        task = next(iter(project.tasks()))
        if with_exec:
            attach_exec(project, task, "issue-correctness")
            project = Project(project.root)
        for eval_slug in project.evals(task):
            started = time.perf_counter()
            report = audit_eval(project, task, eval_slug)
            if not report.golden:
                continue
            print(
                f"\nKiln demo {task}/{eval_slug}: {len(report.suspects)} suspects of {report.golden} golden "
                f"({time.perf_counter() - started:.2f}s)"
            )
            for a in report.annotators:
                print(f"  {a.kind:9} {a.name:20} items {a.items:3}  est. reliability {a.reliability:.2f}")
            for s in report.items[:top]:
                print(
                    f"  {s.run}  P(wrong) {s.p_wrong:.2f} (judges alone {s.p_judges if s.p_judges is None else round(s.p_judges, 2)})"
                    f"  consensus {s.consensus}  likely {s.likely}  input: {s.input[:70]!r}"
                )
                for r in s.reasons:
                    print(f"      - [{r.kind}] {r.text}")
            for line in report.sharpen:
                print(f"  to sharpen: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--demo", type=Path, default=DEMO)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument(
        "--with-exec", action="store_true", help="run the example's execution judge on the demo"
    )
    args = parser.parse_args()
    synthetic(args.seeds)
    demo(args.demo, args.top, args.with_exec)


if __name__ == "__main__":
    main()
