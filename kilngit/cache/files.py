"""The facts of many files at once, from the cache where a file is unchanged, read afresh where not.

    facts = file_facts(root, relpaths, files=scanned)   # {relpath: Facts}

A file is read again when its key (`keys`) differs from the cached one; a file's cross-file problems are
recomputed when anything its check depended on changed. Fresh facts are stored for next time unless the
file (or a definition its check read) is racy. Big batches of misses are read by worker processes.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Iterator, Set
from pathlib import Path

from kilngit import layout
from kilngit.cache.facts import Facts, Recording, compute, compute_keyed
from kilngit.cache.keys import RACY, take_stamp, trusted_key
from kilngit.cache.store import open_store
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
    cached = store.get(None if complete else relpaths) if store else {}
    with no_gc():
        out: dict[str, Facts] = {}
        keys: dict[str, str | None] = {}
        misses = []
        for relpath in relpaths:
            hit = cached.get(relpath)
            if hit is not None:
                # Keyed before it is read (a file changed meanwhile is then read again next time).
                key = keys[relpath] = _key(root, relpath, stamp)
                if key is not None and key != RACY and hit[0] == key:
                    out[relpath] = Facts.decode(relpath, hit[1])
                    continue
            misses.append(relpath)
        fresh = set(misses)
        for relpath, (key, facts) in _compute_many(
            root, misses, ctx, workers, records, keys, store is not None
        ).items():
            keys[relpath] = key
            out[relpath] = facts
        for relpath, facts in out.items():
            if facts.checked and relpath not in fresh and not ctx.holds(facts.deps):
                # An input of its check changed (a run it names was deleted, the task was edited): check again.
                out[relpath] = compute(root, relpath, ctx, records)
                fresh.add(relpath)
        if store is not None:
            # In path order (the b-tree appends); a cold run read all of `relpaths`, already in that order.
            order = relpaths if len(fresh) == len(relpaths) else sorted(fresh)
            rows = [
                (p, key, out[p].encode())
                for p in order
                if (key := keys[p]) is not None and key != RACY and out[p].storable
            ]
            gone = [p for p in cached if p not in out] if complete else []
            store.put(rows, gone)
            store.close()
    return out


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic collector off while facts pile up and are gone through (validate's report, the snapshot):
    they hold no cycles, and with a hundred thousand of them the collector's full passes cost as much as
    decoding them (and 8x what the report's loop over them costs)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _key(root: Path, relpath: str, stamp: int) -> str | None:
    try:
        return trusted_key(os.lstat(os.path.join(root, relpath)), stamp)
    except OSError:
        return None


def _compute_many(
    root: Path,
    relpaths: list[str],
    ctx: Recording,
    workers: int | None,
    records: dict[str, Record] | None,
    keys: dict[str, str | None],
    keyed: bool,
) -> dict[str, tuple[str | None, Facts]]:
    """relpath -> (key, facts) of each file read afresh. With `keyed` (for the cache) a file is keyed
    (`keys` where it already is) before it is read, by whoever reads it."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(relpaths) < _PARALLEL_THRESHOLD:
        out = {}
        for p in relpaths:
            key = keys[p] if p in keys else _key(root, p, ctx.stamp_ns) if keyed else None
            out[p] = (key, compute(root, p, ctx, records))
        return out
    chunks = [relpaths[i : i + _CHUNK] for i in range(0, len(relpaths), _CHUNK)]
    frozen = frozenset(ctx.files) if ctx.files is not None else None
    stamp, version = ctx.stamp_ns, ctx.version
    # Imported here: multiprocessing (and joblock's ctypes) cost every command ~25 ms of start-up, and
    # only a big batch of changed files uses them.
    from concurrent.futures import ProcessPoolExecutor

    start = (frozen, os.getpid())
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=start) as pool:
        jobs = [(root, c, stamp, version, keyed) for c in chunks]
        out = {
            p: (keys.get(p, key), Facts.decode(p, text))
            for rows in pool.map(_compute_chunk, jobs)
            for p, key, text in rows
        }
    return out


_worker_files: frozenset[str] | None = None
"""In a worker process: the scanned files, sent once per worker rather than once per chunk."""


def _start_worker(files: frozenset[str] | None, parent: int) -> None:
    from kilngit.joblock import die_with_parent

    # A worker only reads: it dies with its command (kill -9 included) rather than outlive it as an orphan.
    die_with_parent(parent, signal.SIGKILL)
    global _worker_files
    _worker_files = files


def _compute_chunk(args: tuple[Path, list[str], int, int, bool]) -> list[tuple[str, str | None, str]]:
    root, relpaths, stamp, version, keyed = args
    ctx = Recording(root, stamp, _worker_files, version)
    if not keyed:
        return [(p, None, compute(root, p, ctx).encode()) for p in relpaths]
    rows = []
    for p in relpaths:
        key, facts = compute_keyed(root, p, ctx)
        rows.append((p, key, facts.encode()))
    return rows
