"""The facts of many files at once, from the cache where a file is unchanged, read afresh where not.

    facts = file_facts(root, relpaths, files=scanned)   # {relpath: Facts}

`relpaths` may be a folder walk still under way that fills `files` as it goes: the workers start on the
first files it finds.

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
import stat
from collections.abc import Callable, Iterable, Iterator, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kilngit import layout
from kilngit.cache.facts import Facts, Recording, compute, compute_keyed
from kilngit.cache.index import hidden
from kilngit.cache.keys import RACY, take_stamp, trusted_key
from kilngit.cache.store import Store, open_store
from kilngit.records import Record
from kilngit.references import References

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

_PARALLEL_THRESHOLD = 4_000
_CHUNK = 2_000

Sink = Callable[[list[tuple[str, Facts]]], None]
"""Receives every file's final facts once, a chunk at a time (`cache.snapshot` fills its tables with them)."""


def file_facts(
    root: Path,
    relpaths: Iterable[str],
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
    scan), which makes existence checks set lookups; it may still be filled while `relpaths` is gone
    through (a walk under way), and is complete once it is. `complete`: `relpaths` is every record file, so cached
    rows of other paths belong to deleted files and are dropped. `cache=False` reads everything afresh and
    leaves the cache alone. `records` receives the records of the files read in this process. `version`:
    the project's folder layout (facts of one layout are kept apart from another's). `sink` receives each
    file's final facts once, in chunks (each in path order), as they are known."""
    store = open_store(root, version) if cache else None
    stamp = take_stamp(store.folder) if store else 0
    ctx = Recording(root, stamp, files, version)
    if not complete:
        relpaths = list(relpaths)
    cached = store.get(None if complete else relpaths) if store else {}
    with no_gc():
        out: dict[str, Facts] = {}
        keys: dict[str, str | None] = {}
        reader = _Reader(root, ctx, workers, records, keys, store is not None)
        try:
            for relpath in relpaths:
                hit = cached.get(relpath)
                if hit is not None:
                    # Keyed before it is read (a file changed meanwhile is then read again next time).
                    key = keys[relpath] = _key(root, relpath, stamp)
                    if key is not None and key != RACY and hit[0] == key:
                        out[relpath] = Facts.decode(relpath, hit[1])
                        continue
                reader.add(relpath)  # workers may start on it while the caller still walks
            again = []
            for relpath, facts in out.items():
                if facts.checked and not ctx.holds(facts.deps):
                    # An input of its check changed (a run it names was deleted, the task was edited): again.
                    out[relpath] = compute(root, relpath, ctx, records)
                    again.append(relpath)
            _deliver(store, sink, out, keys, list(out), again)
            for chunk in reader.chunks():
                for relpath, (key, facts) in chunk.items():
                    keys[relpath] = key
                    out[relpath] = facts
                _deliver(store, sink, out, keys, list(chunk), list(chunk))
        finally:
            reader.close()
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


class _Reader:
    """Reads the files handed to it (`add`): once there are enough of them, by worker processes, a chunk at
    a time as they come (the first ones while the caller still walks the folders); else in this process,
    when asked for the chunks. With `keyed` (for the cache) a file is keyed (`keys` where it already is)
    before it is read, by whoever reads it.

    Workers started before the scan is complete cannot have its set of files: when there is one
    (`ctx.files`), they take a regular file on disk for a scanned file (`_OnDisk`), and `chunks` checks
    each answer of theirs against the complete set, reading again here the few files whose check was
    told otherwise (a path through a symlinked folder, a file made or removed meanwhile)."""

    def __init__(
        self,
        root: Path,
        ctx: Recording,
        workers: int | None,
        records: dict[str, Record] | None,
        keys: dict[str, str | None],
        keyed: bool,
    ) -> None:
        self.root, self.ctx, self.records, self.keys, self.keyed = root, ctx, records, keys, keyed
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.pending: list[str] = []
        self.pool: Executor | None = None
        self.jobs: list[Future[list[tuple[str, str | None, str]]]] = []

    def add(self, relpath: str) -> None:
        self.pending.append(relpath)
        if self.pool is None and self.workers > 1 and len(self.pending) >= _PARALLEL_THRESHOLD:
            # Imported here: multiprocessing (and joblock's ctypes) cost every command ~25 ms of start-up,
            # and only a big batch of changed files uses them.
            from concurrent.futures import ProcessPoolExecutor

            guess = self.ctx.files is not None
            args = (guess, os.getpid())
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, initializer=_start_worker, initargs=args
            )
        if self.pool is not None:
            while len(self.pending) >= _CHUNK:
                self._submit(self.pending[:_CHUNK])
                del self.pending[:_CHUNK]

    def _submit(self, relpaths: list[str]) -> None:
        assert self.pool is not None
        args = (self.root, sorted(relpaths), self.ctx.stamp_ns, self.ctx.version, self.keyed)
        self.jobs.append(self.pool.submit(_compute_chunk, args))

    def chunks(self) -> Iterator[dict[str, tuple[str | None, Facts]]]:
        """relpath -> (key, facts) of every file added, a chunk at a time (each in path order)."""
        root, ctx, keys = self.root, self.ctx, self.keys
        if self.pool is None:
            out = {}
            for p in sorted(self.pending):
                key = keys[p] if p in keys else _key(root, p, ctx.stamp_ns) if self.keyed else None
                out[p] = (key, compute(root, p, ctx, self.records))
            yield out
            return
        if self.pending:
            self._submit(self.pending)
        guessed = ctx.files is not None
        for job in self.jobs:
            chunk = {}
            for p, key, text in job.result():
                facts = Facts.decode(p, text)
                if guessed and facts.checked and not _as_scanned(ctx, facts.deps):
                    facts = compute(root, p, ctx, self.records)
                chunk[p] = (keys.get(p, key), facts)
            yield chunk

    def close(self) -> None:
        """End the workers (a chunk not yet read is cancelled: the caller gave up on it)."""
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _as_scanned(ctx: Recording, deps: list[list[Any]]) -> bool:
    """Whether every existence answer in `deps` is what the complete scan says."""
    for what, relpath, answer in deps:
        if what == "e" and References.file_exists(ctx, relpath) != answer:
            return False
    return True


class _OnDisk(Set[str]):
    """What a scan's set of regular files would say of a path, asked of the disk (an `lstat`) once per
    path: a worker's answer before the scan is complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: dict[str, bool] = {}

    def __contains__(self, relpath: object) -> bool:
        if not isinstance(relpath, str):
            return False
        found = self._seen.get(relpath)
        if found is None:
            found = self._seen[relpath] = not hidden(relpath) and _is_regular(self.root, relpath)
        return found

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError("the files on disk are asked one by one")

    def __len__(self) -> int:
        raise NotImplementedError("the files on disk are asked one by one")


def _is_regular(root: Path, relpath: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(os.path.join(root, relpath)).st_mode)
    except OSError:
        return False


_worker_guess = False
"""In a worker process: take a regular file on disk for a scanned one (`_Reader`)."""


def _start_worker(guess: bool, parent: int) -> None:
    from kilngit.joblock import die_with_parent

    # A worker only reads: it dies with its command (kill -9 included) rather than outlive it as an orphan.
    die_with_parent(parent, signal.SIGKILL)
    global _worker_guess
    _worker_guess = guess


def _compute_chunk(args: tuple[Path, list[str], int, int, bool]) -> list[tuple[str, str | None, str]]:
    root, relpaths, stamp, version, keyed = args
    ctx = Recording(root, stamp, _OnDisk(root) if _worker_guess else None, version)
    if not keyed:
        return [(p, None, compute(root, p, ctx).encode()) for p in relpaths]
    rows = []
    for p in relpaths:
        key, facts = compute_keyed(root, p, ctx)
        rows.append((p, key, facts.encode()))
    return rows
