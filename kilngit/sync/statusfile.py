"""What the running watcher is doing, kept in files under `.kilngit/` for `kilngit watch --status` and tools:

* `.kilngit/watch/status.json`: state, pid, pending paths, last commit, jobs, sync (rewritten every few
  seconds while the watcher runs; `updated_at` shows it is alive);
* `.kilngit/problems.json`: the files the watcher refuses to commit and why (machine-readable, rewritten
  when the set changes; empty list when everything is valid).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from kilngit import layout
from kilngit._io import atomic_write
from kilngit.providers.batch_jobs import describe
from kilngit.sync.lock import WATCH_DIR, running_watcher_pid

_LISTED = 10  # invalid files named in `watch --status` (all of them are in problems.json)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds")


def status_path(root: str | Path) -> Path:
    return Path(root) / layout.LOCAL_STATE / WATCH_DIR / "status.json"


def problems_path(root: str | Path) -> Path:
    return Path(root) / layout.LOCAL_STATE / "problems.json"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_status(root: str | Path) -> dict[str, Any]:
    """The last status the watcher wrote, with `running` telling whether a watcher holds the lock now."""
    try:
        data = json.loads(status_path(root).read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    pid = running_watcher_pid(root)
    data["running"] = pid is not None
    if data.get("invalid"):
        try:
            data["problems"] = json.loads(problems_path(root).read_text())["problems"]
        except (OSError, ValueError, KeyError, TypeError):
            data["problems"] = []
    if pid is None and data.get("state") not in (None, "stopped"):
        data["state"] = "dead"  # the file says running but no process holds the lock: it was killed
    return data


def status_lines(data: dict[str, Any]) -> list[str]:
    """A human reading of `read_status`."""
    if not data.get("pid"):
        return ["no watcher has run in this project yet (start one: kilngit watch)"]
    state = data.get("state")
    if not data["running"]:
        when = data.get("updated_at", "?")
        how = "was killed" if state == "dead" else "stopped"
        return [f"no watcher running (the last one, pid {data['pid']}, {how}; last seen {when})"]
    out = [
        f"watcher pid {data['pid']} since {data.get('started_at')}: {state}"
        + (f" ({data['waiting']})" if data.get("waiting") else "")
    ]
    out.append(f"  pending: {data.get('pending', 0)} path(s) waiting for the quiet window")
    last = data.get("last_commit")
    out.append(
        f"  commits: {data.get('commits', 0)} made"
        + (f"; last {last['sha'][:10]} at {last['at']}: {last['subject']}" if last else "")
    )
    if data.get("invalid"):
        out.append(f"  invalid: {data['invalid']} file(s) not committed (see .kilngit/problems.json)")
        out += [f"    {p['path']}: {p['message']}" for p in data.get("problems", [])[:_LISTED]]
    if data.get("untrusted"):
        names = ", ".join(data["untrusted"][:5]) + (", ..." if len(data["untrusted"]) > 5 else "")
        out.append(
            f"  untrusted: {len(data['untrusted'])} item(s) wait for `kilngit trust` (jobs not run): {names}"
        )
    if data.get("left_alone"):
        out.append(f"  left alone: {data['left_alone']} file(s) you staged by hand")
    jobs = data.get("jobs") or {}
    for job in jobs.get("running", []):
        out.append(f"  job running: {job['label']} ({job['seconds']}s)")
    if jobs.get("pending"):
        out.append(f"  jobs pending: {jobs['pending']}")
    out += [f"  {describe(b)}" for b in data.get("batches") or []]
    sync = data.get("sync")
    if sync:
        out.append(
            f"  sync: {sync['state']}: {sync['message']}"
            + (f" (ahead {sync['ahead']})" if sync.get("ahead") else "")
        )
    return out
