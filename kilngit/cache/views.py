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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kilngit._io import ReadError, check_no_symlinks
from kilngit.cache.changes import changes
from kilngit.cache.records import read_listing
from kilngit.cache.store import CACHE_DIR
from kilngit.cache.view_queries import View
from kilngit.load import Parsed
from kilngit.project import Project
from kilngit.records import Annotation, JudgeResult, TaskRun
from kilngit.run_rows import TaskDefs, run_row
from kilngit.state import run_states

DB_NAME = "views.sqlite"
SCHEMA = "5"
_BUSY_MS = 5_000

_TABLES = (
    # Per task: the definitions' fingerprint the rows were computed with, the file index's state then, and
    # a generation that grows whenever a row the scoreboards read changes.
    "CREATE TABLE IF NOT EXISTS defs (task TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT,"
    " gen INT NOT NULL)",
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
)


def open_view(project: Project, task: str, defs: TaskDefs) -> View | None:
    """The task's rows brought up to date with its files, or None when the views cannot be trusted or
    used (then read the records)."""
    if os.environ.get("KILNGIT_NO_CACHE"):
        return None
    db = _connect(project.root)
    if db is None:
        return None
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
            for table in ("defs", "files", "runs", "members", "verdicts", "boards"):
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
    have = db.execute("SELECT fingerprint, state, gen FROM defs WHERE task = ?", (task,)).fetchone()
    stored = None
    gen = have[2] if have else 0
    fresh = have is None or have[0] != defs.fingerprint  # every row is computed anew
    if fresh:
        for table in ("files", "runs", "members", "verdicts"):
            db.execute(f"DELETE FROM {table} WHERE task = ?", (task,))
    else:
        stored = have[1]
    changed, gone, known, state = changes(db, project, task, defs.evals, stored)
    touched: set[str] = {r for p in [*changed, *gone] if p in known and (r := known[p][1]) is not None}
    db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in gone))
    rows = []
    read: dict[str, Parsed] = {}  # what the recompute needs of the files just read: not read twice
    for kind, parsed in _read(project, [(v[0], p) for p, v in changed.items()]):
        row = _file_row(task, kind, parsed, changed[parsed.relpath][1])
        rows.append(row)
        if row[4] is not None:
            touched.add(row[4])
            read[parsed.relpath] = parsed
    db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    boards_stale = fresh
    if touched:
        boards_stale = _recompute(db, project, task, defs, touched, read, fresh) or fresh
    if boards_stale:  # stored scoreboards are of an older generation now: unused, so dropped
        gen += 1
        db.execute("DELETE FROM boards WHERE task = ?", (task,))
    db.execute("INSERT OR REPLACE INTO defs VALUES (?, ?, ?, ?)", (task, defs.fingerprint, state, gen))
    db.execute("COMMIT")


def _file_row(task: str, kind: str, parsed: Parsed, key: str) -> tuple[Any, ...]:
    record, params = parsed.record, parsed.params
    valid = record is not None and not any(p.severity == "error" for p in parsed.problems)
    run = rater = eval_ = judge = jhash = None
    odd = False
    if kind == "task_run":
        run = params.get("id")
        odd = valid and (not isinstance(record, TaskRun) or record.id != run)
    elif kind == "annotation":
        run = params.get("run")
        if valid:
            odd = not isinstance(record, Annotation) or record.run != run
            rater = getattr(record, "rater", None)
    else:
        eval_ = params.get("eval")
        if valid:
            odd = not isinstance(record, JudgeResult)
            run, judge, jhash = (
                getattr(record, "run", None),
                getattr(record, "judge", None),
                getattr(record, "judge_hash", None),
            )
    problems = len(parsed.problems)
    return (parsed.relpath, key, task, kind, run, rater, eval_, judge, jhash, valid, problems, odd)


def _read(project: Project, wanted: Iterable[tuple[str, str]]) -> Iterator[tuple[str, Parsed]]:
    """Parse files as the project loader does (through the cache of checked files), in path order per kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, relpath in wanted:
        by_kind.setdefault(kind, []).append(relpath)
    for kind, relpaths in by_kind.items():
        for parsed in read_listing(project.root, kind, sorted(relpaths, key=_order), project.layout_version):
            yield kind, parsed


def _order(relpath: str) -> list[str]:
    return relpath.split("/")  # the order of `Project.candidates` (folder by folder)


def _recompute(
    db: sqlite3.Connection,
    project: Project,
    task: str,
    defs: TaskDefs,
    touched: set[str],
    read: dict[str, Parsed],
    fresh: bool,
) -> bool:
    """Recompute the rows of the `touched` runs from their files (as listed in `files`; those in `read`
    were just read). `fresh`: the task's rows were all dropped, so there is none to delete. True when a
    row a scoreboard reads changed (then stored scoreboards are stale)."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS touched (run TEXT PRIMARY KEY)")
    db.execute("DELETE FROM touched")
    db.executemany("INSERT OR IGNORE INTO touched VALUES (?)", ((r,) for r in touched))
    paths = db.execute(
        "SELECT kind, path FROM files WHERE task = ? AND valid AND run IN (SELECT run FROM touched)", (task,)
    ).fetchall()
    runs: dict[str, TaskRun] = {}
    annotations: list[Annotation] = []
    results: dict[str, dict[str, list[JudgeResult]]] = {}
    unread = [(kind, path) for kind, path in paths if path not in read]
    for parsed in [
        *(read[path] for _, path in paths if path in read),
        *(p for _, p in _read(project, unread)),
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
    old = set() if fresh else _board_inputs(db, task)
    for run in () if fresh else touched:
        db.execute("DELETE FROM runs WHERE task = ? AND run = ?", (task, run))
        db.execute("DELETE FROM members WHERE task = ? AND run = ?", (task, run))
        db.execute("DELETE FROM verdicts WHERE task = ? AND run = ?", (task, run))
    out_runs, out_members, out_verdicts = [], [], []
    for rid, state in run_states(dict(sorted(runs.items())), annotations).items():
        by_eval = {e: sorted(rs, key=lambda r: r.id) for e, rs in results.get(state.id, {}).items()}
        row = run_row(state, by_eval, defs)
        out_runs.append(
            (task, rid, row.input, row.has_output, row.input_only, row.failed, row.rated, row.disputed)
            + (*row.truth, row.group, row.config_hash, row.usage is not None, *(row.usage or (None,) * 4))
            + (row.source or (None, None))
        )
        for slug, ev in defs.evals.items():
            in_eval, in_golden = row.evals[slug]
            judged = row.verdicts.get(slug, {})
            if in_eval or in_golden or judged:
                done = bool(ev.default_judge) and ev.default_judge in judged
                names = "".join(f"|{j}|" for j in judged)
                out_members.append((task, slug, rid, in_eval, in_golden, row.has_output, done, names))
            for judge, (scores, labels) in judged.items():
                out_verdicts.append((task, slug, judge, rid, _json(scores), _json(labels)))
    db.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 19)})", out_runs)
    db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", out_verdicts)
    db.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?)", out_members)
    new = {("r", *_board_columns(r)) for r in out_runs}
    return old != new | {("m", *m) for m in out_members} | {("v", *v) for v in out_verdicts}


def _board_inputs(db: sqlite3.Connection, task: str) -> set[tuple[Any, ...]]:
    """What scoreboards read of the touched runs' stored rows (runs, members, verdicts)."""
    where = "WHERE task = ? AND run IN (SELECT run FROM touched)"
    out = {("r", *_board_columns(r)) for r in db.execute(f"SELECT * FROM runs {where}", (task,))}
    out |= {("m", *m) for m in db.execute(f"SELECT * FROM members {where}", (task,))}
    return out | {("v", *v) for v in db.execute(f"SELECT * FROM verdicts {where}", (task,))}


def _board_columns(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:5] + row[8:]  # all but failed, rated and disputed, which only status counts


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
