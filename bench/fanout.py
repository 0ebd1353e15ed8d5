"""Folder fan-out of the two project layouts: entries per folder, and the bytes of new git objects a one-file
commit writes, side by side in one run; then the time of `kilngit migrate`.

    nice -n 10 python bench/fanout.py [--records 1000000] [--migrate 100000] [--cache /tmp/kilngit-fanout]

1. N synthetic runs of one task (canonical bytes, real content IDs) go into one real git repository by
   `git fast-import`, once as layout 1 (`runs/ab/<id>.json`, branch `layout1`) and once as layout 2
   (`runs/ab/cd/<id>.json`, branch `layout2`), sharing the blobs. Cached under --cache: the next run reuses it.
2. For each layout, one new run is committed the way `git commit` does it (a throwaway index read from the
   branch, `update-index`, `write-tree`, `commit-tree`): the new objects are listed with
   `git rev-list --objects new ^old` and sized with `git cat-file --batch-check` (uncompressed, and on disk:
   zlib-compressed loose objects), beside the growth `git count-objects -v` reports.
3. Entries per folder: counted at N from the paths, and at 10M from 10M simulated content IDs (SHA-256 is
   uniform, so prefixes of hashes of distinct inputs are what real IDs give).
4. A layout-1 project of M records (working tree, index, one commit) is built and `kilngit migrate` timed in a
   fresh process, then its no-op re-run, and the `git commit` of the renames.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import GIT_ENV  # noqa: E402

from kilngit.kinds import KINDS  # noqa: E402
from kilngit.records.canonical import content_id, to_file_bytes  # noqa: E402

RUN = KINDS["task_run"]


def run_record(i: int) -> bytes:
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
            "run_config": "mini",
        },
        "usage": {"input_tokens": 120 + i % 50, "output_tokens": 30, "cost": 0.00012, "latency_ms": 812.5},
        "sample": 0,
        "tags": [],
    }
    rec["id"] = content_id(rec)
    return to_file_bytes(rec)


def git(repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=repo, input=input, capture_output=True, check=True, env=env or GIT_ENV
    )
    return out.stdout.decode().strip()


def manifest(version: int) -> bytes:
    line = f"layout: {version}\n" if version > 1 else ""
    return f"kind: project\nv: 1\nname: fanout\n{line}".encode()


def build_repo(repo: Path, n: int) -> list[str]:
    """The repository with branches layout1 and layout2 holding the same n runs; returns their IDs."""
    ids_file = repo / "ids.txt"
    if ids_file.is_file():
        return ids_file.read_text().split()
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "--bare")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"], cwd=repo, stdin=subprocess.PIPE, env=GIT_ENV
    )
    assert proc.stdin is not None
    ids = []
    write = proc.stdin.write
    for i in range(n):
        data = run_record(i)
        ids.append(json.loads(data)["id"])
        write(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(data), data))
    for version in (1, 2):
        m = manifest(version)
        write(b"commit refs/heads/layout%d\ncommitter bench <bench@example.com> 0 +0000\ndata 0\n" % version)
        write(b"M 100644 inline kilngit.yaml\ndata %d\n%s\n" % (len(m), m))
        for i, rid in enumerate(ids):
            path = RUN.fill({"task": "t", "id": rid}, version)
            write(b"M 100644 :%d %s\n" % (i + 1, path.encode()))
        write(b"\n")
    write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    ids_file.write_text("\n".join(ids))
    print(f"built {n:,} runs in two layouts in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return ids


def loose(repo: Path) -> dict[str, int]:
    out = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    return {"count": int(out["count"]), "size_kib": int(out["size"])}


def one_file_commit(repo: Path, version: int, n: int) -> dict[str, object]:
    """Commit one new run on branch layout<version> as `git commit` would; the new objects and their sizes."""
    index = repo / f"index-{version}"
    env = dict(GIT_ENV, GIT_INDEX_FILE=str(index))
    git(repo, "read-tree", f"layout{version}", env=env)
    data = run_record(n + version)  # a run not in the repository yet
    rid = json.loads(data)["id"]
    before = loose(repo)
    blob = git(repo, "hash-object", "-w", "--stdin", input=data)
    path = RUN.fill({"task": "t", "id": rid}, version)
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = git(repo, "write-tree", env=env)
    commit = git(repo, "commit-tree", tree, "-p", f"layout{version}", "-m", "one run", env=env)
    after = loose(repo)
    objects = git(repo, "rev-list", "--objects", commit, f"^layout{version}").splitlines()
    shas = "\n".join(line.split(" ", 1)[0] for line in objects) + "\n"
    rows = git(
        repo, "cat-file", "--batch-check=%(objecttype) %(objectsize) %(objectsize:disk)", input=shas.encode()
    ).splitlines()
    sizes = [row.split() for row in rows]
    index.unlink()
    for sha in [s.split(" ", 1)[0] for s in objects]:  # leave the cached repository as it was
        (repo / "objects" / sha[:2] / sha[2:]).unlink(missing_ok=True)
    trees = [(int(s[1]), int(s[2])) for s in sizes if s[0] == "tree"]
    return {
        "path": path,
        "new_objects": len(sizes),
        "new_trees": len(trees),
        "largest_tree_bytes": max(t[0] for t in trees),
        "bytes_uncompressed": sum(int(s[1]) for s in sizes),
        "bytes_on_disk": sum(int(s[2]) for s in sizes),
        "tree_bytes_uncompressed": sum(t[0] for t in trees),
        "tree_bytes_on_disk": sum(t[1] for t in trees),
        "count_objects_growth": {
            "count": after["count"] - before["count"],
            "size_kib": after["size_kib"] - before["size_kib"],
        },
    }


def folder_entries(ids: list[str], version: int) -> dict[str, int]:
    """Max entries per folder level under runs/ for these IDs in layout `version`."""
    dirs = Counter(posix_dir(RUN.fill({"task": "t", "id": i}, version)) for i in ids)
    parents = Counter(posix_dir(d) for d in dirs)
    out = {
        "runs/ (shard folders)": len({d.split("/")[3] for d in dirs}),
        "leaf folder (files)": max(dirs.values()),
    }
    if version > 1:
        out["middle folder (folders)"] = max(parents.values())
    return out


def posix_dir(path: str) -> str:
    return path.rsplit("/", 1)[0]


def simulated(n: int) -> dict[str, dict[str, int]]:
    """Entries per folder at n records in both layouts from n simulated content IDs (SHA-256 prefixes)."""
    two, four = Counter(), Counter()
    for i in range(n):
        h = hashlib.sha256(b"%d" % i).hexdigest()
        two[h[:2]] += 1
        four[h[:4]] += 1
    mids = Counter(k[:2] for k in four)
    return {
        "layout1": {"runs/ (shard folders)": len(two), "leaf folder (files)": max(two.values())},
        "layout2": {
            "runs/ (shard folders)": len(two),
            "middle folder (folders)": max(mids.values()),
            "leaf folder (files)": max(four.values()),
        },
    }


def time_migrate(root: Path, m: int) -> dict[str, object]:
    """A layout-1 project of m runs with a work tree and index, migrated by `kilngit migrate`."""
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    git(root, "init", "-q")
    git(root, "config", "feature.manyFiles", "true")
    (root / "kilngit.yaml").write_bytes(manifest(1))
    t0 = time.perf_counter()
    for i in range(m):
        data = run_record(i)
        path = root / RUN.fill({"task": "t", "id": json.loads(data)["id"]}, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "layout 1")
    built = time.perf_counter() - t0
    kilngit = [sys.executable, "-m", "kilngit", "-C", str(root), "migrate", "--format", "json"]
    t0 = time.perf_counter()
    report = json.loads(subprocess.run(kilngit, capture_output=True, check=True, env=GIT_ENV).stdout)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = json.loads(subprocess.run(kilngit, capture_output=True, check=True, env=GIT_ENV).stdout)
    rerun = time.perf_counter() - t0
    t0 = time.perf_counter()
    git(root, "commit", "-qm", "kilngit migrate")
    commit = time.perf_counter() - t0
    renames = git(root, "show", "--stat", "-M", "--format=", "HEAD").splitlines()[-1]
    return {
        "records": m,
        "build_seconds": round(built, 1),
        "migrate_seconds": round(first, 2),
        "moved": report["moved"],
        "index_moved": report["index_moved"],
        "rerun_seconds": round(rerun, 2),
        "rerun_changed": again["changed"],
        "git_commit_seconds": round(commit, 2),
        "commit_stat": renames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--migrate", type=int, default=100_000, help="records of the migrate timing (0: skip)"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/kilngit-fanout"))
    args = parser.parse_args()
    n = args.records
    repo = args.cache / f"repo-{n}"
    ids = build_repo(repo, n)
    result: dict[str, object] = {"records": n, "cpus": os.cpu_count()}
    result["one_file_commit"] = {f"layout{v}": one_file_commit(repo, v, n) for v in (1, 2)}
    result["entries_per_folder"] = {f"layout{v}": folder_entries(ids, v) for v in (1, 2)}
    result["entries_per_folder_at_10M_simulated"] = simulated(10_000_000)
    if args.migrate:
        result["migrate"] = time_migrate(args.cache / f"migrate-{args.migrate}", args.migrate)
    print(json.dumps(result, indent=2))
    old, new = result["one_file_commit"]["layout1"], result["one_file_commit"]["layout2"]  # type: ignore[index]
    print(
        f"one-file commit at {n:,} runs: layout 1 writes {old['bytes_on_disk']:,} bytes of new objects "
        f"({old['bytes_uncompressed']:,} uncompressed), layout 2 {new['bytes_on_disk']:,} "
        f"({new['bytes_uncompressed']:,}): {old['bytes_on_disk'] / new['bytes_on_disk']:.1f}x less",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
