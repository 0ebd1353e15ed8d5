"""The example's execution judge on the real Kiln demo: pass/fail per golden Correctness item, per ffmpeg.

    python bench/exec_judge_demo.py [--demo PATH] [--ffmpeg NAME=PATH ...] [--all] [--keep] [--json OUT]

Imports the Kiln demo into a temporary project, copies example_project/judges into it, attaches the judge to
the imported `issue-correctness` eval once per ffmpeg binary (Debian's /usr/bin/ffmpeg and imageio-ffmpeg's
static one by default; `KILNGIT_FFMPEG` selects the binary), runs the eval with kilngit's runner, and prints
one line per golden item: the verdict with each binary, and the reason. By default only the golden set is
judged (the eval set is pointed at it); `--all` judges the eval set too. The human consensus is shown for
reference only: the judge never sees it, and the point is to check it against what execution shows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kilngit.evals.runner import run_eval  # noqa: E402
from kilngit.kiln import import_kiln  # noqa: E402
from kilngit.project import Project  # noqa: E402

DEMO = HERE.parent.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"
EVAL = "issue-correctness"
JUDGE = """kind: judge
v: 1
type: code
description: Runs the answer's ffmpeg commands with {name} ffmpeg ({path}).
function: judges.ffmpeg_exec:judge
timeout_s: 900
"""


def default_binaries() -> dict[str, str]:
    found = {}
    if shutil.which("ffmpeg"):
        found["system"] = shutil.which("ffmpeg")
    try:
        import imageio_ffmpeg

        found["imageio"] = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed
        pass
    return found


def consensus(project: Project, task: str, run_id: str) -> str:
    values = [
        a.requirements["correctness"].value
        for a in project.annotations(task)
        if a.run == run_id and "correctness" in a.requirements
    ]
    if not values:
        return "-"
    return "pass" if sum(values) / len(values) >= 0.5 else "fail"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=DEMO)
    parser.add_argument("--ffmpeg", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--all", action="store_true", help="judge the eval set too, not only the golden set")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and print its path")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args()
    if not (args.demo / "project.kiln").is_file():
        print(f"the Kiln demo is not at {args.demo}", file=sys.stderr)
        return 1
    binaries = dict(b.split("=", 1) for b in args.ffmpeg) or default_binaries()
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")

    base = Path(tempfile.mkdtemp(prefix="kilngit-exec-demo-"))
    root = base / "demo"
    start = time.perf_counter()
    import_kiln(args.demo, root)
    print(f"imported the demo in {time.perf_counter() - start:.1f}s into {root}")
    shutil.copytree(HERE.parent / "example_project" / "judges", root / "judges")
    project = Project(root)
    task = project.task_slug(None)
    eval_dir = root / "tasks" / task / "evals" / EVAL
    ev = project.evals(task)[EVAL]
    if not args.all:
        text = (eval_dir / "eval.yaml").read_text()
        (eval_dir / "eval.yaml").write_text(
            text.replace(f"eval_set: {ev.eval_set}", f"eval_set: {ev.golden_set}")
        )
    for name, path in binaries.items():
        (eval_dir / "judges" / f"exec-{name}.yaml").write_text(JUDGE.format(name=name, path=path))

    timings = {}
    for name, path in binaries.items():
        os.environ["KILNGIT_FFMPEG"] = path  # inherited by the judge's worker processes
        start = time.perf_counter()
        summary = run_eval(Project(root), task, EVAL, judges=[f"exec-{name}"], progress=False, concurrency=2)
        timings[name] = time.perf_counter() - start
        if summary.fatal:
            print(f"{name}: {summary.fatal}", file=sys.stderr)
            return 1

    project = Project(root)
    golden = {s.id: s for s in project.select(task, ev.golden_set)}
    results = {(r.judge, r.run): r for r in project.judge_results(task, EVAL) if r.judge.startswith("exec-")}
    rows = []
    for run_id, state in sorted(golden.items(), key=lambda kv: kv[1].run.input):
        row = {"run": run_id, "request": state.run.input, "human": consensus(project, task, run_id)}
        for name in binaries:
            r = results.get((f"exec-{name}", run_id))
            score = r.scores.get("correctness") if r and r.scores else None
            row[name] = "error" if r is None or score is None else ("pass" if score == 1.0 else "fail")
            row[f"{name}_reason"] = ((r.details or {}).get("verdict", {}).get("reason") if r else None) or (
                r and r.error
            )
        rows.append(row)

    names = list(binaries)
    print(f"\n| run | request | {' | '.join(names)} | human | reason ({names[0]}) |")
    print("|---|---|" + "---|" * (len(names) + 2))
    for row in rows:
        request = row["request"].replace("|", "/").replace("\n", " ")
        reason = (row[f"{names[0]}_reason"] or "").replace("|", "/").replace("\n", " ")
        print(
            f"| {row['run'][:8]} | {request[:70]} | {' | '.join(row[n] for n in names)} | {row['human']} "
            f"| {reason[:150]} |"
        )
    print()
    for name in names:
        verdicts = [r[name] for r in rows]
        agree = sum(r[name] == r["human"] for r in rows)
        print(
            f"{name} ({binaries[name]}): {verdicts.count('pass')} pass, {verdicts.count('fail')} fail, "
            f"{verdicts.count('error')} error of {len(rows)} golden items; refused: "
            f"{sum('refused' in (r[f'{name}_reason'] or '') for r in rows)}; same as the human consensus: "
            f"{agree}; {timings[name]:.0f}s"
        )
    if len(names) > 1:
        differ = [r["run"][:8] for r in rows if len({r[n] for n in names}) > 1]
        print(f"verdicts that differ between binaries: {len(differ)} {differ}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.keep:
        print(f"project kept at {root}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
