"""Listing records through the cache: what `Project.records` reads bulk kinds with.

A file the cache knows, unchanged since (its `fstat` on the open file is the cached key), is known to hold
a valid record, so it is parsed and validated by the model in one pass (`model_validate_json`): the strict
reader's extra passes (duplicate keys, depth, non-finite numbers) already ran when it was cached. Unknown or changed
files are read and checked in full (`file_facts`), which stores their facts for the next command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from kilngit import layout
from kilngit._io import MAX_JSON_BYTES, ReadError, read_bytes_and_stat
from kilngit.cache.facts import Facts
from kilngit.cache.files import file_facts
from kilngit.cache.keys import take_stamp, trusted_key
from kilngit.cache.store import open_store
from kilngit.kinds import KINDS
from kilngit.load import MIGRATIONS, Parsed, parse_record
from kilngit.records import FORMAT_VERSION, Record

_FEW = 1_000
_BLOCK = 10_000


def read_listing(
    root: Path,
    kind: str,
    relpaths: list[str],
    version: int,
    share: Callable[[Record], object] | None = None,
) -> Iterator[Parsed]:
    """Parse the files of a bulk `kind`'s listing as `parse_record(..., full=False)` would: a record when
    it passes its schema (problems left to `validate`), else its problems. `version`: the project's layout.
    `share`: called on each record as soon as it is made (`kilngit.records.sharing`), so a million records
    never sit in memory in their unshared form at once."""
    store = open_store(root, version) if relpaths else None
    if store is None:
        for relpath in relpaths:
            parsed = parse_record(root, relpath, full=False)
            if share is not None and parsed.record is not None:
                share(parsed.record)
            yield parsed
        return
    stamp = take_stamp(store.folder)
    model = KINDS[kind].model
    if store.db is not None:  # rows are read in key order, once: SQLite's default page cache (2 MB) does
        store.db.execute("PRAGMA cache_size=-2000")  # (a bigger one would only add to a full load's peak)
    # First pass: the cached files (their records only), then the rest in blocks, then everything in
    # path order, as listings always were. The cache's rows are fetched one shard folder at a time (256 per
    # listing in layout 2), so a million of them never sit in memory at once.
    found: list[Record | Parsed | None] = []
    # A few scattered files (what changed) are looked up one by one, not by their common prefix (which may
    # span every row of the task).
    few = len(relpaths) <= _FEW
    try:
        rows, chunk = store.get(relpaths) if few else {}, None
        for relpath in relpaths:
            folder = relpath[: relpath.rfind("/", 0, relpath.rfind("/")) + 1]  # the file's grandparent
            if not few and folder != chunk:
                chunk = folder
                rows = store.get_range(folder)
            row = rows.get(relpath)
            hit = _cached(root, relpath, kind, model, row, stamp) if row else None
            if share is not None and isinstance(hit, Record):
                share(hit)
            found.append(hit)
    finally:
        store.close()
    del rows
    # Then the rest, read and checked _BLOCK files at a time (their facts are stored for the next command),
    # each block yielded before the next is read: an empty cache never holds the facts of every file.
    misses = [p for p, hit in zip(relpaths, found, strict=True) if hit is None]
    done = 0
    facts: dict[str, Facts] = {}
    records: dict[str, Record] = {}
    for relpath, hit in zip(relpaths, found, strict=True):
        if isinstance(hit, Record):
            located = layout.classify(relpath)
            if located is not None and located.kind == kind:
                yield Parsed(relpath, kind, hit, [], located.params)
            else:  # not this kind's file after all: the reader says what it is
                yield parse_record(root, relpath, full=False)
        elif hit is not None:
            yield hit
        else:
            if relpath not in facts:  # misses are in path order: the next block starts here
                block = misses[done : done + _BLOCK]
                done += len(block)
                records.clear()
                facts = file_facts(root, block, records=records, version=version)
            yield _fresh(root, relpath, kind, facts.pop(relpath), records.pop(relpath, None), share)


def _cached(
    root: Path, relpath: str, kind: str, model: type[Record], row: tuple[str, str], stamp: int
) -> Record | Parsed | None:
    """The record as the cache knows the file (a Parsed with its problems when it holds none), or None when
    the file changed (or is racy)."""
    try:
        raw, st = read_bytes_and_stat(os.path.join(root, relpath), str(root), MAX_JSON_BYTES)
    except ReadError:
        return None
    if trusted_key(st, stamp) != row[0]:
        return None
    if not Facts.loadable_text(row[1]):
        located = layout.classify(relpath)
        if located is None or located.kind != kind:
            return None
        facts = Facts.decode(relpath, row[1])
        return Parsed(relpath, facts.kind, None, facts.problems, located.params)
    try:
        if not MIGRATIONS.get(kind):  # then a usable file is at the current format version
            return model.model_validate_json(raw)  # parse and validate in one pass, 3x json.loads + validate
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != FORMAT_VERSION:
            return None  # an older version needs its migrations: the full reader applies them
        return model.model_validate(data)
    except (ValueError, ValidationError):
        return None


def _fresh(
    root: Path,
    relpath: str,
    kind: str,
    facts: Facts,
    record: Record | None,
    share: Callable[[Record], object] | None,
) -> Parsed:
    if not facts.loadable:
        located = layout.classify(relpath)
        return Parsed(relpath, facts.kind, None, facts.problems, located.params if located else {})
    if record is None:  # read by a worker process: read it again here
        parsed = parse_record(root, relpath, full=False)
        if share is not None and parsed.record is not None:
            share(parsed.record)
        return parsed
    if share is not None:
        share(record)
    located = layout.classify(relpath)
    return Parsed(relpath, kind, record, [], located.params if located else {})
