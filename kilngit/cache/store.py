"""The cache file: one SQLite database per project, `.kilngit/cache/files.sqlite`.

SQLite (the standard library's `sqlite3`) because it gives what several kilngit processes need at once for
free: transactions (a reader never sees half a write; a killed writer leaves nothing), WAL mode (readers
never wait for the writer, so the watcher and a command can share it), and a lock with a timeout instead
of our own. One row per file: its path, its key (what it was on disk when read) and its facts (JSON).

The cache is never a source of truth. Anything odd about it -- corrupt, written by another kilngit (the
fingerprint of the code that computes facts differs), copied from elsewhere (another root), locked for too
long, on a read-only disk -- makes it be discarded or skipped, never trusted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kilngit import layout
from kilngit._io import ReadError, check_no_symlinks
from kilngit.cache.code import CHECKS, code_digest
from kilngit.kinds import KINDS

CACHE_DIR = f"{layout.LOCAL_STATE}/cache"
DB_NAME = "files.sqlite"
SCHEMA = 2
_BUSY_MS = 5_000  # a writer holding the lock this long is stuck; we go on without writing
_CHUNK = 900  # under SQLite's limit of bound parameters per statement


class Store:
    """Rows of (path, key, facts) for one project. Every method may be called after a failure: a store that
    went bad answers nothing and writes nothing."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.folder = root / CACHE_DIR
        self.path = self.folder / DB_NAME
        self._root = os.path.realpath(root)
        self._fingerprint = fingerprint
        self._db: sqlite3.Connection | None = None
        self._stuck = False
        try:
            check_no_symlinks(self._root, f"{CACHE_DIR}/{DB_NAME}")
        except ReadError:
            return  # a symlinked .kilngit/ or cache folder (committed by someone?) may point anywhere: unused
        try:
            self._db = self._open()
        except (sqlite3.Error, OSError):
            self._discard()
            try:
                self._db = self._open()
            except (sqlite3.Error, OSError):
                self._db = None  # read-only disk or the like: run uncached

    def _open(self) -> sqlite3.Connection:
        self.folder.mkdir(parents=True, exist_ok=True)
        busy = int(os.environ.get("KILNGIT_CACHE_BUSY_MS", _BUSY_MS))  # tests set 0 to never wait
        db = sqlite3.connect(self.path, timeout=busy / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "PRAGMA synchronous=NORMAL"
            )  # WAL + NORMAL: a power cut loses the last writes, never the file
            db.execute("PRAGMA cache_size=-65536")  # 64 MiB (not 2): a first fill writes ~100 MB at 100k
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, key TEXT NOT NULL, facts TEXT NOT NULL)"
                " WITHOUT ROWID"
            )
            for table in _SNAPSHOT_TABLES:
                db.execute(f"CREATE TABLE IF NOT EXISTS {table}")
            want = {"schema": str(SCHEMA), "fingerprint": self._fingerprint, "root": self._root}
            have = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if have != want:
                # Another kilngit version, another root (a copied folder), or new: start empty.
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM files")
                for table in _SNAPSHOT_TABLES:
                    db.execute(f"DELETE FROM {table.split(' ', 1)[0]}")
                db.execute("DELETE FROM meta")
                db.executemany("INSERT INTO meta VALUES (?, ?)", want.items())
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self) -> None:
        """Delete the database files (corrupt or unreadable): the next open starts afresh."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @property
    def usable(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> sqlite3.Connection | None:
        """The open database, for the snapshot tables of `cache.snapshot` (None when unusable)."""
        return self._db

    def discard(self) -> None:
        """Give up on a database found corrupt while using it (`db`)."""
        self._discard()

    def get(self, paths: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """path -> (key, facts) for `paths`, or for every row when None."""
        if self._db is None:
            return {}
        try:
            if paths is None:
                rows: Iterable[tuple[str, str, str]] = self._db.execute("SELECT path, key, facts FROM files")
                return {p: (k, f) for p, k, f in rows}
            out: dict[str, tuple[str, str]] = {}
            for chunk in _chunks(list(paths)):
                marks = ",".join("?" * len(chunk))
                for p, k, f in self._db.execute(
                    f"SELECT path, key, facts FROM files WHERE path IN ({marks})", chunk
                ):
                    out[p] = (k, f)
            return out
        except sqlite3.DatabaseError:
            self._discard()
            return {}

    def get_range(self, prefix: str) -> dict[str, tuple[str, str]]:
        """path -> (key, facts) for every row whose path starts with `prefix` (one folder's listing)."""
        if self._db is None:
            return {}
        try:
            rows = self._db.execute(
                "SELECT path, key, facts FROM files WHERE path >= ? AND path < ?",
                (prefix, prefix + "\U0010ffff"),
            )
            return {p: (k, f) for p, k, f in rows}
        except sqlite3.DatabaseError:
            self._discard()
            return {}

    def put(self, rows: Iterable[tuple[str, str, str]], gone: Iterable[str] = ()) -> None:
        """Store (path, key, facts) rows and drop the rows of files that are `gone`, in one transaction.
        After a put that could not write (locked past the timeout, disk full), later ones write nothing."""
        rows, gone = list(rows), list(gone)
        if self._db is None or self._stuck or not (rows or gone):
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", rows)
            self._db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in gone))
            self._db.execute("COMMIT")
        except sqlite3.OperationalError:
            self._rollback()  # locked past the timeout or disk full: these facts are simply not kept
            self._stuck = True  # and no later put of this command waits for that lock again
        except sqlite3.DatabaseError:
            self._discard()

    def _rollback(self) -> None:
        try:
            assert self._db is not None
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_SNAPSHOT_TABLES = (
    # validate's last report, kept incrementally (kilngit.cache.snapshot): per file its facts and problems,
    # who depends on which path, which files share a run key, and the git state it was computed at.
    "snap_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "snap_files (path TEXT PRIMARY KEY, facts TEXT NOT NULL) WITHOUT ROWID",
    "snap_problems (path TEXT PRIMARY KEY, problems TEXT NOT NULL) WITHOUT ROWID",
    "snap_deps (dep TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (dep, path)) WITHOUT ROWID",
    "snap_runs (run_key TEXT NOT NULL, path TEXT NOT NULL, PRIMARY KEY (run_key, path)) WITHOUT ROWID",
)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def open_store(root: Path, version: int) -> Store | None:
    """The project's cache for folder layout `version`, or None when `KILNGIT_NO_CACHE` is set or it cannot
    be opened."""
    if os.environ.get("KILNGIT_NO_CACHE"):
        return None
    store = Store(root, code_fingerprint(f"layout {version}\n{_kinds_table()}"))
    return store if store.usable else None


def _kinds_table() -> str:
    """The registered kinds (tests and plugins add some): a path means another kind when the table changes."""
    return "\n".join(f"{k.name} {k.path} {k.model_name}" for k in KINDS.values())


_FINGERPRINTS: dict[str, str] = {}


def code_fingerprint(extra: str) -> str:
    """A digest of the code that computes cached facts (the modules that read and check records) and of
    `extra` (e.g. the kinds table), so facts from another kilngit version are never reused."""
    if extra in _FINGERPRINTS:
        return _FINGERPRINTS[extra]
    h = code_digest(f"{SCHEMA}\n{extra}\n", CHECKS)
    _FINGERPRINTS[extra] = h.hexdigest()[:32]
    return _FINGERPRINTS[extra]


def rows_in(db: sqlite3.Connection, sql: str, values: Iterable[str]) -> Iterator[Any]:
    """The rows of `sql`, whose `IN ({})` is filled with `values` in chunks SQLite accepts (at most 999
    parameters per statement in older builds)."""
    items = sorted(values)
    for i in range(0, len(items), 900):
        chunk = items[i : i + 900]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk)
