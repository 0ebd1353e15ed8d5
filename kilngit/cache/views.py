"""Per-run rows for `status` and `eval scores`, kept up to date file by file, in `.kilngit/cache/views.sqlite`.

    view = open_view(project, task, defs)     # None: no cache (KILNGIT_NO_CACHE, unusable, odd files)
    view.counts() / view.board_rows(e, j)     # what the commands aggregate, instead of every record

Tables: one row per bulk file of the task (run, annotation, judge result: its key, whether it loaded, how
many problems it has, which run it belongs to), one derived row per run (`kilngit.run_rows.RunRow`), and per
eval its members and current verdicts. A command asks which files changed since the rows were stored
(`kilngit.cache.changes`: git's answer, else the files' keys); a changed, new or deleted file is read again
and the rows of the runs it touches (an annotation names its run in its path, a judge result in its record,
old and new) are recomputed from their files with the same code as the uncached path. A change to any
definition of the task (`TaskDefs.fingerprint`) recomputes every row. All of it in one transaction: a reader
never sees half an update, a killed writer leaves nothing, two commands take turns. Never a second source of
truth: when anything is odd (a record whose ID or run differs from its path, a locked or corrupt database),
the command reads every record as it always did.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from kilngit._io import ReadError, check_no_symlinks
from kilngit.cache import board_edits, early
from kilngit.cache.changes import changes
from kilngit.cache.store import CACHE_DIR, rows_in
from kilngit.cache.view_files import file_row, read_files
from kilngit.cache.view_queries import View
from kilngit.cache.view_rows import table_rows
from kilngit.cache.view_stats import carried
from kilngit.load import Parsed
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, TaskRun
from kilngit.run_rows import TaskDefs, run_row
from kilngit.state import run_states

DB_NAME = "views.sqlite"
SCHEMA = "7"  # bump when the tables, or what a stored row means, change: it empties them
_BUSY_MS = 5_000

_TABLES = (
    # Per task: the definitions' fingerprint the rows were computed with, the file index's state then, and
    # generations that grow whenever a row the scoreboards (gen) or status (sgen) read changes.
    "CREATE TABLE IF NOT EXISTS defs (task TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT,"
    " gen INT NOT NULL, sgen INT NOT NULL)",
    # One row per bulk file. run: the run it belongs to; valid: it loads; odd: its record's run (or ID)
    # differs from its path (then the views are not used).
    "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, key TEXT NOT NULL, task TEXT NOT NULL,"
    " kind TEXT NOT NULL, run TEXT, rater TEXT, eval TEXT, judge TEXT, jhash TEXT, valid INT NOT NULL,"
    " problems INT NOT NULL, odd INT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS files_run ON files (task, kind, run)",
    # What status counts, without a scan of every file's row.
    "CREATE INDEX IF NOT EXISTS files_odd ON files (task) WHERE odd = 1",
    "CREATE INDEX IF NOT EXISTS files_problems ON files (task, problems) WHERE problems > 0",
    "CREATE INDEX IF NOT EXISTS files_counted ON files (task, kind, valid, rater, eval, judge, jhash)",
    "CREATE TABLE IF NOT EXISTS runs (task TEXT NOT NULL, run TEXT NOT NULL, input TEXT, has_output INT,"
    " input_only INT, failed INT, rated INT, disputed INT, truth INT, label TEXT, grp TEXT, config_hash TEXT,"
    # usage and source as the scoreboard reads them (no type: values come back as stored, int or float)
    " has_usage INT, u_in, u_out, u_cost, u_lat, model TEXT, prompt TEXT,"
    " PRIMARY KEY (task, run)) WITHOUT ROWID",
    # Per eval: runs in its eval or golden set, or with a current verdict (done: by the default judge).
    "CREATE TABLE IF NOT EXISTS members (task TEXT NOT NULL, eval TEXT NOT NULL, run TEXT NOT NULL,"
    " in_eval INT, in_golden INT, has_output INT, done INT, judges TEXT NOT NULL,"
    " PRIMARY KEY (task, eval, run)) WITHOUT ROWID",
    # The run's current (scores, labels) from each judge of an eval, as JSON.
    "CREATE TABLE IF NOT EXISTS verdicts (task TEXT NOT NULL, eval TEXT NOT NULL, judge TEXT NOT NULL,"
    " run TEXT NOT NULL, scores TEXT NOT NULL, labels TEXT NOT NULL, PRIMARY KEY (task, eval, judge, run))"
    " WITHOUT ROWID",
    # Scoreboards (JSON) of one generation of the rows and a digest of their code (`kilngit.evals.board_view`).
    "CREATE TABLE IF NOT EXISTS boards (task TEXT NOT NULL, eval TEXT NOT NULL, judge TEXT NOT NULL,"
    " gen INT NOT NULL, code TEXT NOT NULL, board TEXT NOT NULL, PRIMARY KEY (task, eval, judge))",
    # The verdicts replaced, come or gone and inputs' human classes changed by the refresh that made
    # generation gen, when nothing else a scoreboard reads changed (`kilngit.cache.board_edits`; schema 7:
    # verdicts that come or go, which an older kilngit would misread); the index finds an input's runs.
    "CREATE TABLE IF NOT EXISTS board_edits (task TEXT NOT NULL, gen INT NOT NULL, edits TEXT NOT NULL,"
    " PRIMARY KEY (task, gen))",
    "CREATE INDEX IF NOT EXISTS runs_input ON runs (task, input)",
    # status's counts (JSON) of one generation of the rows (`kilngit.status`).
    "CREATE TABLE IF NOT EXISTS stats (task TEXT PRIMARY KEY, gen INT NOT NULL, numbers TEXT NOT NULL)",
)


def open_view(project: Project, task: str, defs: TaskDefs) -> View | None:
    """The task's rows brought up to date with its files, or None when the views cannot be trusted or
    used (then read the records)."""
    if os.environ.get("KILNGIT_NO_CACHE"):
        return None
    db = _connect(project.root)
    if db is None:
        return None
    # What reading a changed bulk file builds first (pydantic builds a model's validator on first use).
    early.while_git_runs(project.root, (m.model_rebuild for m in (Annotation, TaskRun, JudgeResult)))
    try:
        _refresh(db, project, task, defs)
        if db.execute("SELECT 1 FROM files WHERE task = ? AND odd = 1 LIMIT 1", (task,)).fetchone():
            db.close()
            return None
        return View(db, task)
    except sqlite3.OperationalError:  # locked too long, disk full: read the records this time
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        db.close()
        return None
    except sqlite3.DatabaseError:
        db.close()
        _discard(project.root)
        return None


def _connect(root: Path) -> sqlite3.Connection | None:
    real = os.path.realpath(root)
    try:
        check_no_symlinks(real, f"{CACHE_DIR}/{DB_NAME}")
    except ReadError:
        return None  # a symlinked .kilngit/ or cache folder may point anywhere: unused
    for attempt in (1, 2):
        try:
            return _open(root, real)
        except (sqlite3.Error, OSError):
            if attempt == 1:
                _discard(root)
    return None


def _open(root: Path, real: str) -> sqlite3.Connection:
    folder = root / CACHE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    busy = int(os.environ.get("KILNGIT_CACHE_BUSY_MS", _BUSY_MS))
    db = sqlite3.connect(folder / DB_NAME, timeout=busy / 1000, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        want = {"schema": SCHEMA, "root": real}
        if dict(db.execute("SELECT name, value FROM meta").fetchall()) != want:
            db.execute("BEGIN IMMEDIATE")  # another schema, a copied folder, or new: start empty
            for table in ("defs", "files", "runs", "members", "verdicts", "boards", "board_edits", "stats"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute("DELETE FROM meta")
            db.executemany("INSERT INTO meta VALUES (?, ?)", want.items())
            db.execute("COMMIT")
        for sql in _TABLES:
            db.execute(sql)
    except BaseException:
        db.close()
        raise
    return db


def _discard(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(f"{root / CACHE_DIR / DB_NAME}{suffix}").unlink(missing_ok=True)


def _refresh(db: sqlite3.Connection, project: Project, task: str, defs: TaskDefs) -> None:
    db.execute("BEGIN IMMEDIATE")
    have = db.execute("SELECT fingerprint, state, gen, sgen FROM defs WHERE task = ?", (task,)).fetchone()
    stored = None
    gen, sgen = (have[2], have[3]) if have else (0, 0)
    fresh = have is None or have[0] != defs.fingerprint  # every row is computed anew
    if fresh:
        for table in ("files", "runs", "members", "verdicts"):
            db.execute(f"DELETE FROM {table} WHERE task = ?", (task,))
    else:
        stored = have[1]
    changed, gone, known, state = changes(db, project, task, defs.evals, stored)
    touched: set[str] = {r for p in [*changed, *gone] if p in known and (r := known[p][1]) is not None}
    counted = (
        "SELECT kind, run, rater, eval, judge, jhash, valid, problems, odd FROM files WHERE path IN ({})"
    )
    old_files = Counter(rows_in(db, counted, [*changed, *gone]))  # what status counts of these files
    db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in gone))
    rows = []
    read: dict[str, Parsed] = {}  # what the recompute needs of the files just read: not read twice
    for kind, parsed in read_files(project, [(v[0], p) for p, v in changed.items()]):
        row = file_row(task, kind, parsed, changed[parsed.relpath][1])
        rows.append(row)
        if row[4] is not None:
            touched.add(row[4])
            read[parsed.relpath] = parsed
    db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    old, new = _recompute(db, project, task, defs, touched, read, fresh) if touched else (set(), set())
    if fresh or (board_old := _board_part(old)) != (board_new := _board_part(new)):
        gen += 1  # stored scoreboards are of an older generation now: of use only if verdicts alone changed
        edits = None if fresh else board_edits.board_edits(db, task, board_old, board_new)
        if edits is None:
            db.execute("DELETE FROM boards WHERE task = ?", (task,))
            db.execute("DELETE FROM board_edits WHERE task = ?", (task,))
        else:
            db.execute("INSERT OR REPLACE INTO board_edits VALUES (?, ?, ?)", (task, gen, json.dumps(edits)))
            db.execute("DELETE FROM board_edits WHERE task = ? AND gen <= ?", (task, gen - board_edits.KEEP))
            db.execute("DELETE FROM boards WHERE task = ? AND gen < ?", (task, gen - board_edits.KEEP))
    new_files = [r[3:] for r in rows]
    if fresh or old != new or old_files != Counter(new_files):
        stored_stats = None if fresh else _stats(db, task, sgen)
        sgen += 1
        db.execute("DELETE FROM stats WHERE task = ?", (task,))
        if stored_stats is not None and (now := carried(stored_stats, old_files, new_files, old, new)):
            db.execute("INSERT INTO stats VALUES (?, ?, ?)", (task, sgen, json.dumps(now)))
    db.execute(
        "INSERT OR REPLACE INTO defs VALUES (?, ?, ?, ?, ?)", (task, defs.fingerprint, state, gen, sgen)
    )
    db.execute("COMMIT")


def _recompute(
    db: sqlite3.Connection,
    project: Project,
    task: str,
    defs: TaskDefs,
    touched: set[str],
    read: dict[str, Parsed],
    fresh: bool,
) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Recompute the rows of the `touched` runs from their files (as listed in `files`; those in `read`
    were just read). `fresh`: the task's rows were all dropped, so there is none to delete. Their rows
    before and after, tagged by table ("r", "m", "v")."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (run TEXT PRIMARY KEY)")
    db.execute("DELETE FROM touched")
    db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((r,) for r in touched))
    paths = db.execute(  # every kind named, so that the index on (task, kind, run) finds the few rows
        "SELECT kind, path FROM files WHERE task = ? AND kind IN ('task_run', 'annotation', 'judge_result')"
        " AND valid AND run IN (SELECT run FROM touched)",
        (task,),
    ).fetchall()
    runs: dict[str, TaskRun] = {}
    annotations: list[Annotation] = []
    results: dict[str, dict[str, list[JudgeResult]]] = {}
    unread = [(kind, path) for kind, path in paths if path not in read]
    for parsed in [
        *(read[path] for _, path in paths if path in read),
        *(p for _, p in read_files(project, unread)),
    ]:
        record = parsed.record
        if record is None or any(p.severity == "error" for p in parsed.problems):
            continue  # changed since listed: the next command sees its new key
        if isinstance(record, TaskRun):
            runs[parsed.params["id"]] = record
        elif isinstance(record, Annotation):
            annotations.append(record)
        elif isinstance(record, JudgeResult):
            results.setdefault(record.run, {}).setdefault(parsed.params["eval"], []).append(record)
    old = set() if fresh else _stored_rows(db, task, defs)
    if not fresh:
        for table, (where, args) in _touched_rows(task, defs).items():
            db.execute(f"DELETE FROM {table} {where}", args)
    out_runs: list[tuple[Any, ...]] = []
    out_members: list[tuple[Any, ...]] = []
    out_verdicts: list[tuple[Any, ...]] = []
    for rid, state in run_states(dict(sorted(runs.items())), annotations).items():
        by_eval = {e: sorted(rs, key=lambda r: r.id) for e, rs in results.get(state.id, {}).items()}
        run, members, verdicts = table_rows(task, rid, run_row(state, by_eval, defs), defs)
        out_runs.append(run)
        out_members += members
        out_verdicts += verdicts
    db.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 19)})", out_runs)
    db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", out_verdicts)
    db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?)", out_members)
    new = {("r", *r) for r in out_runs} | {("m", *m) for m in out_members} | {("v", *v) for v in out_verdicts}
    return old, new


def _stats(db: sqlite3.Connection, task: str, sgen: int) -> dict[str, Any] | None:
    """status's counts stored for the rows' generation `sgen` (`View.numbers`), or None."""
    row = db.execute("SELECT numbers FROM stats WHERE task = ? AND gen = ?", (task, sgen)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _stored_rows(db: sqlite3.Connection, task: str, defs: TaskDefs) -> set[tuple[Any, ...]]:
    """The touched runs' stored rows (runs, members, verdicts), tagged by table."""
    out: set[tuple[Any, ...]] = set()
    for table, (where, args) in _touched_rows(task, defs).items():
        out |= {(table[0], *r) for r in db.execute(f"SELECT * FROM {table} {where}", args)}
    return out


def _touched_rows(task: str, defs: TaskDefs) -> dict[str, tuple[str, tuple[str, ...]]]:
    """table -> (WHERE clause, its arguments) of the touched runs' rows. Each names every leading column
    of the table's key (the rows were computed with these definitions: no other eval or judge is stored), so
    SQLite looks the runs up instead of scanning the task's rows (300k members at 1M records)."""
    evals = tuple(defs.evals)
    judges = tuple(sorted({j for js in defs.hashes.values() for j in js}))
    touched = "run IN (SELECT run FROM touched)"
    runs: dict[str, tuple[str, tuple[str, ...]]] = {"runs": (f"WHERE task = ? AND {touched}", (task,))}
    if not evals:
        return runs  # (an empty IN list would scan every task's rows)
    return {
        **runs,
        "members": (f"WHERE task = ? AND eval IN ({_marks(evals)}) AND {touched}", (task, *evals)),
        "verdicts": (
            f"WHERE task = ? AND eval IN ({_marks(evals)}) AND judge IN ({_marks(judges)}) AND {touched}",
            (task, *evals, *judges),
        ),
    }


def _marks(values: tuple[str, ...]) -> str:
    return ",".join("?" * len(values))


def _board_part(rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """What scoreboards read of `rows`: all but a run's failed, rated and disputed, which only status counts."""
    return {r[:6] + r[9:] if r[0] == "r" else r for r in rows}
