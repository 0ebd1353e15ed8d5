"""The facts of many files at once, from the cache where a file is unchanged, read afresh where not.

    facts = file_facts(root, relpaths, files=scanned)   # {relpath: Facts}

A file is read again when its key (`keys`) differs from the cached one; a file's cross-file problems are
recomputed when anything its check depended on changed. Fresh facts are stored for next time unless the
file (or a definition its check read) is racy. Big batches of misses are read by worker processes, and each
chunk they hand back is stored (and given to the caller's `sink`) as it arrives, while the others are still
being read: on a cold run the parent's share of the work overlaps the workers' instead of following it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Set
from pathlib import Path
from typing import TYPE_CHECKING

from kilngit import layout
from kilngit.cache.facts import Facts, Recording, compute, compute_keyed
from kilngit.cache.keys import RACY, take_stamp, trusted_key
from kilngit.cache.store import Store, open_store
from kilngit.records import Record

if TYPE_CHECKING:
    from concurrent.futures import Executor

_PARALLEL_THRESHOLD = 4_000
_CHUNK = 2_000

Sink = Callable[[list[tuple[str, Facts]]], None]
"""Receives every file's final facts once, a chunk at a time (`cache.snapshot` fills its tables with them)."""


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
    sink: Sink | None = None,
) -> dict[str, Facts]:
    """Facts of each of `relpaths` (relative to `root`). `files`: every regular file under tasks/ (a full
    scan), which makes existence checks set lookups. `complete`: `relpaths` is every record file, so cached
    rows of other paths belong to deleted files and are dropped. `cache=False` reads everything afresh and
    leaves the cache alone. `records` receives the records of the files read in this process. `version`:
    the project's folder layout (facts of one layout are kept apart from another's). `sink` receives each
    file's final facts once, in chunks, as they are known (the workers' chunks in path order)."""
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
        # Started first, so that the workers read while this process rechecks the hits below.
        chunks = _compute_many(root, misses, ctx, workers, records, keys, store is not None)
        try:
            again = []
            for relpath, facts in out.items():
                if facts.checked and not ctx.holds(facts.deps):
                    # An input of its check changed (a run it names was deleted, the task was edited): again.
                    out[relpath] = compute(root, relpath, ctx, records)
                    again.append(relpath)
            _deliver(store, sink, out, keys, list(out), again)
            for chunk in chunks:
                for relpath, (key, facts) in chunk.items():
                    keys[relpath] = key
                    out[relpath] = facts
                _deliver(store, sink, out, keys, list(chunk), list(chunk))
        finally:
            chunks.close()
        if store is not None:
            if complete:
                store.put([], [p for p in cached if p not in out])
            store.close()
    return out


def _deliver(
    store: Store | None,
    sink: Sink | None,
    out: dict[str, Facts],
    keys: dict[str, str | None],
    done: list[str],
    fresh: list[str],
) -> None:
    """Hand the facts of `done` to the sink and store those of `fresh` (read afresh, in path order: the
    b-tree appends), unless racy."""
    if sink is not None and done:
        sink([(p, out[p]) for p in done])
    if store is not None:
        store.put(
            [
                (p, key, out[p].encode())
                for p in fresh
                if (key := keys[p]) is not None and key != RACY and out[p].storable
            ]
        )


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
) -> _Chunks:
    """Chunks of relpath -> (key, facts) of the files read afresh: in this process before it returns, or
    by worker processes started before it returns, each chunk handed over as soon as it is read. With
    `keyed` (for the cache) a file is keyed (`keys` where it already is) before it is read, by whoever
    reads it."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(relpaths) < _PARALLEL_THRESHOLD:
        out = {}
        for p in relpaths:
            key = keys[p] if p in keys else _key(root, p, ctx.stamp_ns) if keyed else None
            out[p] = (key, compute(root, p, ctx, records))
        return _Chunks([out])
    chunks = [relpaths[i : i + _CHUNK] for i in range(0, len(relpaths), _CHUNK)]
    frozen = frozenset(ctx.files) if ctx.files is not None else None
    stamp, version = ctx.stamp_ns, ctx.version
    # Imported here: multiprocessing (and joblock's ctypes) cost every command ~25 ms of start-up, and
    # only a big batch of changed files uses them.
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(frozen, os.getpid()))
    try:
        results = pool.map(_compute_chunk, [(root, c, stamp, version, keyed) for c in chunks])
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    decoded = ({p: (keys.get(p, key), Facts.decode(p, text)) for p, key, text in rows} for rows in results)
    return _Chunks(decoded, pool)


class _Chunks:
    """The chunks of `_compute_many`, in path order; `close` ends the workers (any chunk not yet read is
    cancelled: the caller gave up on them)."""

    def __init__(self, chunks: Iterable[dict[str, tuple[str | None, Facts]]], pool: Executor | None = None):
        self._chunks = chunks
        self._pool = pool

    def __iter__(self) -> Iterator[dict[str, tuple[str | None, Facts]]]:
        return iter(self._chunks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


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
