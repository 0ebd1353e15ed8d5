"""Build projects of N records and time cold `validate`, a full load, and `validate --changed` after one edit,
beside the time to merely read and json-parse the same files.

    python bench/validate_scale.py 10000 100000 [1000000] [--keep DIR]

Records: 70% runs, 20% annotations (two raters), 10% judge results: the definitions written through kilngit,
the records streamed into git by `git fast-import` and checked out (no write per file through Python, so 1M
records take minutes). Each size is built once in a temp folder (or DIR, reused when present) and committed,
then each measurement runs in a fresh process.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import GIT_ENV  # noqa: E402

from kilngit import layout  # noqa: E402
from kilngit.records.canonical import content_id, to_file_bytes  # noqa: E402


def build(root: Path, n: int) -> None:
    """Write a valid project with about n records (raw dicts, canonical bytes, real content IDs), committed.

    The definitions go through kilngit's API; the records go straight into git by `git fast-import` (one
    commit on top of the definitions) and are then checked out, so 1M records take minutes, not hours of
    one write per file.
    """
    from kilngit.authoring import new_task
    from kilngit.init import init_project
    from kilngit.records import Eval, EvalScore, Judge, Requirement, RunConfig
    from kilngit.records.evals import judge_hash

    project = init_project(root, name=f"bench-{n}")
    new_task(
        project,
        "t",
        "Write one ffmpeg command.",
        requirements=[Requirement(name="correct_command", instruction="Does what was asked.")],
    )
    project.write_definition(
        layout.eval_file("t", "e"),
        Eval(
            name="e",
            scores=[EvalScore(name="correct_command", instruction="Is it right?")],
            default_judge="j",
        ),
    )
    project.write_definition(
        layout.run_config_file("t", "mini"),
        RunConfig(provider="openai", model="gpt-4o-mini", prompt="default"),
    )
    judge = Judge(type="contains", score="correct_command", pattern="ffmpeg")
    project.write_definition(layout.judge_file("t", "e", "j"), judge)
    jh = judge_hash(judge, project.evals("t")["e"])
    git = functools.partial(subprocess.run, cwd=root, check=True, env=GIT_ENV)
    git(["git", "config", "feature.manyFiles", "true"])
    git(["git", "config", "checkout.workers", "0"])  # one checkout worker per core
    git(["git", "add", "-A"])
    git(["git", "commit", "-qm", "bench: definitions"])
    branch = git(["git", "symbolic-ref", "HEAD"], capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=root, stdin=subprocess.PIPE, env=GIT_ENV
    )
    assert proc.stdin is not None
    out = io.BufferedWriter(proc.stdin, buffer_size=1 << 20)  # type: ignore[arg-type]
    message = b"bench: %d records" % n
    out.write(b"commit %s\ncommitter bench <bench@example.com> 0 +0000\n" % branch.encode())
    out.write(b"data %d\n%s\nfrom %s^0\n" % (len(message), message, branch.encode()))
    for path, data in records(n, jh):
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
    out.write(b"\ndone\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    git(["git", "reset", "-q", "--hard"])  # index and work tree follow the new commit


def records(n: int, judge_hash: str) -> Iterator[tuple[str, bytes]]:
    """(path, canonical bytes) of n records: 70% runs, 20% annotations (two raters), 10% judge results."""
    from kilngit.records import JudgeResult

    n_runs, n_ann = int(n * 0.7), int(n * 0.2)
    run_ids = []
    for i in range(n_runs):
        rec = {
            "kind": "task_run",
            "v": 1,
            "task": "t",
            "input": f"convert clip{i}.mov to mp4, keep audio",
            "input_source": {"type": "human", "created_by": "alice@example.com"},
            "output": f"ffmpeg -i clip{i}.mov -c:v libx264 -c:a aac clip{i}.mp4",
            "output_source": {
                "type": "synthetic",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "prompt": "default",
                "run_config": "mini",
            },
            "usage": {
                "input_tokens": 120 + i % 50,
                "output_tokens": 30,
                "cost": 0.00012,
                "latency_ms": 812.5,
            },
            "sample": 0,
            "tags": ["eval_set"] if i % 3 == 0 else [],
        }
        rec["id"] = content_id(rec)
        run_ids.append(rec["id"])
        yield layout.run_file("t", rec["id"]), to_file_bytes(rec)
    for i in range(n_ann):
        rater = "alice@example.com" if i % 2 == 0 else "bob@example.com"
        run_id = run_ids[i // 2 % n_runs]
        rec = {
            "kind": "annotation",
            "v": 1,
            "task": "t",
            "run": run_id,
            "rater": rater,
            "rating": {"type": "pass_fail", "value": float(i % 3 != 0)},
            "requirements": {},
            "tags_added": [],
            "tags_removed": [],
        }
        yield layout.annotation_file("t", rater, run_id), to_file_bytes(rec)
    # The fields JudgeResult adds by default, computed once (they do not depend on the run or sample).
    base = {
        "kind": "judge_result",
        "v": 1,
        "task": "t",
        "eval": "e",
        "judge": "j",
        "judge_hash": judge_hash,
        "run": run_ids[0],
        "sample": 0,
        "scores": {"correct_command": 1.0},
    }
    base = JudgeResult.model_validate(base).to_data()
    for i in range(n - n_runs - n_ann):
        rec = dict(base, run=run_ids[i % n_runs], sample=i // n_runs)
        rec.pop("id", None)
        rec["id"] = content_id(rec)
        yield layout.judge_result_file("t", "e", "j", rec["id"]), to_file_bytes(rec)


_SNIPPETS = {
    "read+json.loads": """
import json, os, sys
from kilngit.validate import project_files
root = sys.argv[1]
n = 0
for rel in project_files(__import__('pathlib').Path(root)):
    if rel.endswith('.json'):
        with open(os.path.join(root, rel), 'rb') as f:
            json.loads(f.read()); n += 1
print(n)
""",
    "full load": """
import sys
from kilngit import Project
p = Project(sys.argv[1])
n = 0
for t in p.tasks():
    n += len(p.runs(t)) + len(p.annotations(t)) + len(p.states(t))
    for e in p.evals(t):
        n += len(p.judge_results(t, e))
print(n)
""",
    "validate (cold, 2 workers)": """
import sys
from kilngit import validate_project
r = validate_project(sys.argv[1])
assert r.ok, r.problems[:3]
print(r.files)
""",
    "validate (1 worker)": """
import sys
from kilngit import validate_project
r = validate_project(sys.argv[1], workers=1)
assert r.ok, r.problems[:3]
print(r.files)
""",
}


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(root: Path, n: int) -> dict[str, float]:
    # Warm the page cache first so every measurement below reads from memory (each runs in a fresh process).
    timed([sys.executable, "-c", _SNIPPETS["read+json.loads"], str(root)])
    out = {}
    for name, code in _SNIPPETS.items():
        if name == "validate (1 worker)" and n > 200_000:
            continue
        out[name] = timed([sys.executable, "-c", code, str(root)])
    # One edit, then `kilngit validate --changed` as a pre-commit hook would run it (whole process).
    ann = next((root / "tasks/t/annotations/alice@example.com").rglob("*.json"))
    data = json.loads(ann.read_text())
    data["note"] = "edited"
    ann.write_bytes(to_file_bytes(data))
    out["validate --changed (process)"] = timed(
        [sys.executable, "-m", "kilngit", "-C", str(root), "validate", "--changed"]
    )
    out["git status alone"] = timed(["git", "status", "--porcelain"], cwd=root)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--keep", type=Path, help="build into this folder (reused when present)")
    args = parser.parse_args()
    print(f"{'records':>9}  {'measure':<30} {'seconds':>8}")
    for n in args.sizes:
        base = args.keep or Path(tempfile.mkdtemp(prefix="kilngit-bench-"))
        root = base / f"p{n}"
        if not (root / "kilngit.yaml").exists():
            start = time.perf_counter()
            build(root, n)
            print(f"{n:>9}  {'build + git commit':<30} {time.perf_counter() - start:8.2f}", flush=True)
        results = measure(root, n)
        for name, seconds in results.items():
            print(f"{n:>9}  {name:<30} {seconds:8.2f}", flush=True)
        ratio = results["validate (cold, 2 workers)"] / results["read+json.loads"]
        print(f"{n:>9}  {'validate / read+parse':<30} {ratio:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
