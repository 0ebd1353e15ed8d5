"""Shared by the watch benchmarks: a throwaway project with a bare remote, the watcher process, and fast
record writers (content-addressed runs and annotations, as a labeling tool or a runner writes them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import GIT_ENV  # noqa: E402

from kilngit import layout  # noqa: E402
from kilngit.records import Annotation, Rating, Source, TaskRun  # noqa: E402

SOURCE = Source(type="human", created_by="bench@example.com")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_project(parent: Path | None = None) -> Path:
    """A project with one task, committed, with a bare remote as origin/main."""
    from kilngit.authoring import new_task
    from kilngit.init import init_project

    base = Path(parent or tempfile.mkdtemp(prefix="kilngit-watch-bench-"))
    root = base / "proj"
    os.environ.update({k: v for k, v in GIT_ENV.items() if k.startswith("GIT_")})
    project = init_project(root, name="watch-bench")
    new_task(project, "t", "Write one ffmpeg command.")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    git(root, "branch", "-M", "main")
    git(base, "init", "-q", "--bare", "-b", "main", str(base / "remote.git"))
    git(root, "remote", "add", "origin", str(base / "remote.git"))
    git(root, "push", "-q", "-u", "origin", "main")
    return root


def start_watcher(root: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`kilngit watch ARGS` in the background; returns once it watches."""
    log = root.parent / "watch.log"
    out = open(log, "wb")  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        [sys.executable, "-m", "kilngit", "-C", str(root), "watch", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=GIT_ENV,
    )
    deadline = time.monotonic() + 60
    while b"watching " not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"watcher did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process, log


def run_record(text: str, tags: tuple[str, ...] = ()) -> TaskRun:
    return TaskRun(
        task="t",
        input=text,
        input_source=SOURCE,
        output=f"ffmpeg -i {text}.mov {text}.mp4",  # type: ignore[return-value]
        output_source=SOURCE,
        tags=sorted(tags),
    ).with_id()


def annotation_record(run: TaskRun, value: float = 1.0) -> Annotation:
    return Annotation(
        task="t", run=run.id, rater="bench@example.com", rating=Rating(type="pass_fail", value=value)
    )


def write_raw(root: Path, records: list) -> list[str]:  # type: ignore[type-arg]
    """Write records at their paths as fast as a script can (no fsync)."""
    out = []
    for record in records:
        rel = layout.record_path(record)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(record.to_bytes())
        out.append(rel)
    return out


def save_like_an_editor(root: Path, record) -> str:  # type: ignore[no-untyped-def]
    """Write a temp file beside the target, then rename it over the target (what editors and kilngit do)."""
    rel = layout.record_path(record)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.bench.tmp")
    tmp.write_bytes(record.to_bytes())
    os.rename(tmp, path)
    return rel


def rss_kib(pid: int) -> int:
    """Resident memory of a process, in KiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def clean_up(root: Path, keep: Path | None, log: Path) -> None:
    """Remove the throwaway project, or say where the kept one is."""
    if keep:
        print(f"kept {root} (watcher log: {log})")
    else:
        shutil.rmtree(root.parent, ignore_errors=True)
