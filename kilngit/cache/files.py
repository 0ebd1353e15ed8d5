"""The facts of many files at once, from the cache where a file is unchanged, read afresh where not.

    facts = file_facts(root, relpaths, files=scanned)   # {relpath: Facts}

A file is read again when its key (`keys`) differs from the cached one; a file's cross-file problems are
recomputed when anything its check depended on changed. Fresh facts are stored for next time unless the
file (or a definition its check read) is racy. Big batches of misses are read by worker processes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Set
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from kilngit import layout
from kilngit.cache.facts import Facts, Recording, compute
from kilngit.cache.keys import RACY, take_stamp, trusted_key
from kilngit.cache.store import open_store
from kilngit.joblock import die_with_parent
from kilngit.records import Record

_PARALLEL_THRESHOLD = 4_000
_CHUNK = 2_000


def file_facts(
    root: Path,
    relpaths: list[str],
    *,
    files: Set[str] | None = None,
    workers: int | None = None,
    cache: bool = True,
    complete: bool = False,
    records: dict[str, Record] | None = None,
    version: int = layout.LAYOUT,
) -> dict[str, Facts]:
    """Facts of each of `relpaths` (relative to `root`). `files`: every regular file under tasks/ (a full
    scan), which makes existence checks set lookups. `complete`: `relpaths` is every record file, so cached
    rows of other paths belong to deleted files and are dropped. `cache=False` reads everything afresh and
    leaves the cache alone. `records` receives the records of the files read in this process. `version`:
    the project's folder layout (facts of one layout are kept apart from another's)."""
    store = open_store(root, version) if cache else None
    stamp = take_stamp(store.folder) if store else 0
    ctx = Recording(root, stamp, files, version)
    keys = {p: _key(root, p, stamp) for p in relpaths}
    cached = store.get(None if complete else relpaths) if store else {}
    out: dict[str, Facts] = {}
    misses = []
    for relpath in relpaths:
        key = keys[relpath]
        hit = cached.get(relpath)
        if hit is not None and key is not None and key != RACY and hit[0] == key:
            out[relpath] = Facts.decode(relpath, hit[1])
        else:
            misses.append(relpath)
    fresh = set(misses)
    out.update(_compute_many(root, misses, ctx, workers, records))
    for relpath, facts in out.items():
        if facts.checked and relpath not in fresh and not ctx.holds(facts.deps):
            # An input of its check changed (a run it names was deleted, the task was edited): check again.
            out[relpath] = compute(root, relpath, ctx, records)
            fresh.add(relpath)
    if store is not None:
        rows = [
            (p, key, out[p].encode())
            for p in sorted(fresh)
            if (key := keys[p]) is not None and key != RACY and out[p].storable
        ]
        gone = [p for p in cached if p not in keys] if complete else []
        store.put(rows, gone)
        store.close()
    return out


def _key(root: Path, relpath: str, stamp: int) -> str | None:
    try:
        return trusted_key(os.lstat(os.path.join(root, relpath)), stamp)
    except OSError:
        return None


def _compute_many(
    root: Path, relpaths: list[str], ctx: Recording, workers: int | None, records: dict[str, Record] | None
) -> dict[str, Facts]:
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(relpaths) < _PARALLEL_THRESHOLD:
        return {p: compute(root, p, ctx, records) for p in relpaths}
    chunks = [relpaths[i : i + _CHUNK] for i in range(0, len(relpaths), _CHUNK)]
    frozen = frozenset(ctx.files) if ctx.files is not None else None
    stamp, version = ctx.stamp_ns, ctx.version
    out: dict[str, Facts] = {}
    start = (frozen, os.getpid())
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=start) as pool:
        for rows in pool.map(_compute_chunk, [(root, c, stamp, version) for c in chunks]):
            out.update((p, Facts.decode(p, text)) for p, text in rows)
    return out


_worker_files: frozenset[str] | None = None
"""In a worker process: the scanned files, sent once per worker rather than once per chunk."""


def _start_worker(files: frozenset[str] | None, parent: int) -> None:
    # A worker only reads: it dies with its command (kill -9 included) rather than outlive it as an orphan.
    die_with_parent(parent, signal.SIGKILL)
    global _worker_files
    _worker_files = files


def _compute_chunk(args: tuple[Path, list[str], int, int]) -> list[tuple[str, str]]:
    root, relpaths, stamp, version = args
    ctx = Recording(root, stamp, _worker_files, version)
    return [(p, compute(root, p, ctx).encode()) for p in relpaths]
