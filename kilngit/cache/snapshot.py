"""`validate`'s last report, brought up to date by reading only what changed since (the warm path).

The snapshot (tables `snap_*` of the cache's database) holds, as of one git state (`index.IndexState`): each
record file's facts, each file's problems (few files have any), which files' checks asked about which path
(`snap_deps`, the reverse of `Facts.deps`) and which files share a run key (`snap_runs`). A command asks
git what changed since that state (`FileIndex.changed_since`) and then

- reads and checks the changed files afresh,
- re-checks the files whose checks asked about a changed path, when an answer no longer holds,
- re-examines the duplicate groups of the changed files' old and new run keys,

and takes everything else from the snapshot. The state is taken before anything is read, so a file changed
meanwhile counts as changed next time; a file whose facts could not be stored (racy) is kept `pending` and
read again next time. When there is no usable snapshot (first run, another kilngit, too much changed,
corrupt) the whole project is read (`full`) and the snapshot rebuilt. Two commands at once: a writer whose
starting state is no longer the stored one writes nothing (its own report is still right).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass
from pathlib import Path

from kilngit.cache import warm
from kilngit.cache.facts import Facts, Recording, compute
from kilngit.cache.files import Sink
from kilngit.cache.index import FileIndex, IndexState, hidden
from kilngit.cache.store import Store, open_store, rows_in
from kilngit.problems import Problem

_MOST_CHANGED = 5_000  # more changed files than this: read the project in full (worker processes)


@dataclass
class Outcome:
    """What validate reports: the record files counted, their kinds, every problem."""

    files: int
    kinds: Counter[str]
    problems: list[Problem]


FullRead = Callable[[Sink | None], tuple[list[str], dict[str, Facts], list[Problem]]]
"""Reads the whole project: (record files in path order, their facts, problems of odd files), handing each
file's facts to the sink (when given) as soon as they are known."""
Aggregate = Callable[[list[str], dict[str, Facts], list[Problem]], Outcome]


def validated(root: Path, index: FileIndex, version: int, full: FullRead, aggregate: Aggregate) -> Outcome:
    """The report of the project at `root` now, from the snapshot where nothing changed (see the module)."""
    store = open_store(root, version)
    if store is None or store.db is None:
        relpaths, facts, odd = full(None)
        return aggregate(relpaths, facts, odd)
    try:
        return _validated(store, store.db, root, index, version, full, aggregate)
    except sqlite3.OperationalError:
        # Locked past the timeout (another writer stuck) or disk full: read the project, keep the cache.
        relpaths, facts, odd = full(None)
        return aggregate(relpaths, facts, odd)
    except (sqlite3.DatabaseError, ValueError, KeyError, TypeError):
        store.discard()  # a corrupt or foreign snapshot: read the project instead, rebuild next time
        relpaths, facts, odd = full(None)
        return aggregate(relpaths, facts, odd)
    finally:
        store.close()


class _Moved(Exception):
    """Another command stored a newer snapshot while this one computed: start again from it."""


def _validated(
    store: Store,
    db: sqlite3.Connection,
    root: Path,
    index: FileIndex,
    version: int,
    full: FullRead,
    aggregate: Aggregate,
) -> Outcome:
    seal = warm.seal(db, root, version)
    for _attempt in range(3):
        meta = _meta(db)
        old = IndexState.decode(meta["state"]) if "state" in meta else None
        changed = index.changed_since(old)
        if changed is None or len(changed) > _MOST_CHANGED:
            break
        try:
            return _update(db, root, index, version, meta, changed, seal)
        except _Moved:
            continue
    fill = _Fill(db, meta.get("state"))
    relpaths, facts, odd = full(fill.add if fill.live else None)
    outcome = aggregate(relpaths, facts, odd)
    fill.finish(index.state, relpaths, facts, outcome, seal)
    if fill.corrupt:
        store.discard()  # went bad while written: rebuilt next time
    return outcome


class _Fill:
    """The snapshot rebuilt as the facts arrive, a chunk per transaction, while the workers still read: the
    inserts overlap the reading instead of following it.

    The first transaction empties the tables (unless another command stored a newer snapshot since `was`:
    then it is kept and nothing is written) and marks them as this command's (`fill`, a token of its own);
    each later one first checks that mark, and the last writes the problems and the state, which makes the
    snapshot usable. Meanwhile there is no state, so any other command reads the project in full (its
    report is right either way); one that starts a fill of its own takes the tables over, and this one
    stops writing. A crash leaves no state: the next command starts afresh."""

    def __init__(self, db: sqlite3.Connection, was: str | None) -> None:
        self.db = db
        self.token = os.urandom(8).hex()
        self.live = True
        self.corrupt = False
        self._write(lambda: self._start(was), mine=False)

    def add(self, items: list[tuple[str, Facts]]) -> None:
        """Insert these files' rows (paths in order)."""
        self._write(lambda: self._insert(items))

    def finish(
        self, state: IndexState, relpaths: list[str], facts: dict[str, Facts], outcome: Outcome, seal: str
    ) -> None:
        """Write the problems and the state: the snapshot of `relpaths` is complete and usable."""
        self._write(lambda: self._seal(state, relpaths, facts, outcome, seal))

    def _write(self, step: Callable[[], bool], mine: bool = True) -> None:
        """`step` in a transaction of its own, while the tables are this command's (`mine`) and it says so."""
        if not self.live:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            # Otherwise another command took the tables over: its fill is the one kept.
            if (not mine or _meta(self.db).get("fill") == self.token) and step():
                self.db.execute("COMMIT")
                return
        except sqlite3.Error as e:
            # Locked past the timeout or disk full: not kept, the next command rebuilds. Any other error
            # is a corrupt database, given up once the project is read (`_validated`).
            self.corrupt = not isinstance(e, sqlite3.OperationalError)
        _rollback(self.db)
        self.live = False

    def _start(self, was: str | None) -> bool:
        if _meta(self.db).get("state") != was:
            return False  # another command stored a newer snapshot meanwhile: keep it
        for table in ("snap_meta", "snap_files", "snap_problems", "snap_deps", "snap_runs"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("INSERT INTO snap_meta VALUES ('fill', ?)", (self.token,))
        return True

    def _insert(self, items: list[tuple[str, Facts]]) -> bool:
        facts = dict(items)
        relpaths = list(facts)
        self.db.executemany("INSERT INTO snap_files VALUES (?, ?)", ((p, f.encode()) for p, f in items))
        # In key order: appending to each table's b-tree costs half as much as inserting all over it.
        self.db.executemany(
            "INSERT OR IGNORE INTO snap_deps VALUES (?, ?)", _sorted_dep_rows(relpaths, facts)
        )
        self.db.executemany("INSERT INTO snap_runs VALUES (?, ?)", sorted(_run_rows(relpaths, facts)))
        return True

    def _seal(
        self, state: IndexState, relpaths: list[str], facts: dict[str, Facts], outcome: Outcome, seal: str
    ) -> bool:
        by_path: dict[str, list[Problem]] = {}
        for problem in outcome.problems:
            by_path.setdefault(problem.path, []).append(problem)
        self.db.executemany(
            "INSERT INTO snap_problems VALUES (?, ?)", ((p, _encode(v)) for p, v in by_path.items())
        )
        self.db.execute("DELETE FROM snap_meta WHERE name = 'fill'")
        _put_meta(self.db, state, outcome, [p for p in relpaths if not facts[p].storable], seal)
        return True


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, value FROM snap_meta").fetchall())


def _update(
    db: sqlite3.Connection,
    root: Path,
    index: FileIndex,
    version: int,
    meta: dict[str, str],
    changed: set[str],
    seal: str,
) -> Outcome:
    from kilngit.validate import duplicate_problem, is_record_candidate, odd_problem  # validate imports us

    kinds: Counter[str] = Counter(json.loads(meta["kinds"]))
    files = int(meta["files"])
    pending = set(json.loads(meta["pending"]))
    ctx = Recording(root, index.stamp_ns, _OnDisk(root), version)
    records = {p for p in changed if is_record_candidate(p)} | pending
    dependents = _select(db, "SELECT DISTINCT path FROM snap_deps WHERE dep IN ({})", changed) - records
    old = {
        p: Facts.decode(p, f)
        for p, f in rows_in(db, "SELECT path, facts FROM snap_files WHERE path IN ({})", records | dependents)
    }
    new: dict[str, Facts | None] = {}
    for p in sorted(records):
        new[p] = compute(root, p, ctx) if _is_file_or_odd(root, p) else None
    for p in sorted(dependents):
        facts = old.get(p)
        if facts is not None and facts.checked and not ctx.holds(facts.deps):
            new[p] = compute(root, p, ctx)  # something its check asked about changed: check it again
    problems_of: dict[str, list[Problem]] = {}
    for p in changed - records:  # odd files (symlinks, FIFOs) that are not named like records
        mode = _mode(root, p)
        odd = mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
        problems_of[p] = [odd_problem(p, stat.S_ISLNK(mode))] if odd and mode is not None else []
    groups: set[str] = set()
    for p, facts in new.items():
        was = old.get(p)
        for f, sign in ((was, -1), (facts, 1)):
            if f is not None:
                kinds[_counted(p, f)] += sign
                files += sign
                if f.run_key:
                    groups.add(_run_key(f.run_key))
    try:
        db.execute("BEGIN IMMEDIATE")
        if dict(db.execute("SELECT name, value FROM snap_meta").fetchall()).get("state") != meta["state"]:
            raise _Moved
        fresh = {p: f for p, f in new.items() if f is not None}
        stale = {p: f for p, f in old.items() if p in new}
        db.executemany("DELETE FROM snap_files WHERE path = ?", ((p,) for p in new))
        db.executemany(
            "DELETE FROM snap_deps WHERE dep = ? AND path = ?",
            ((d, p) for p, d in _dep_rows(list(stale), stale)),
        )
        db.executemany("DELETE FROM snap_runs WHERE run_key = ? AND path = ?", _run_rows(list(stale), stale))
        db.executemany("INSERT INTO snap_files VALUES (?, ?)", ((p, f.encode()) for p, f in fresh.items()))
        db.executemany(
            "INSERT OR IGNORE INTO snap_deps VALUES (?, ?)",
            ((d, p) for p, d in _dep_rows(list(fresh), fresh)),
        )
        db.executemany("INSERT INTO snap_runs VALUES (?, ?)", _run_rows(list(fresh), fresh))
        # Files whose problems may differ now: those read again, odd ones, and every member of a touched
        # duplicate group (its first member, which the others' problems name, may have changed).
        members = {
            key: [
                p for (p,) in db.execute("SELECT path FROM snap_runs WHERE run_key = ? ORDER BY path", (key,))
            ]
            for key in groups
        }
        redo = set(new) | {p for ps in members.values() for p in ps}
        facts_of: dict[str, Facts] = dict(fresh)
        need = redo - set(fresh) - {p for p, f in new.items() if f is None}
        facts_of.update(
            (p, Facts.decode(p, f))
            for p, f in rows_in(db, "SELECT path, facts FROM snap_files WHERE path IN ({})", need)
        )
        for p in redo:
            f = facts_of.get(p)
            problems_of[p] = [] if f is None else [*f.problems, *f.cross]
            if f is not None and f.run_key:
                group = members[_run_key(f.run_key)]
                if group[0] != p:
                    problems_of[p].append(duplicate_problem(tuple(f.run_key), p, group[0]))
        db.executemany("DELETE FROM snap_problems WHERE path = ?", ((p,) for p in problems_of))
        db.executemany(
            "INSERT INTO snap_problems VALUES (?, ?)", ((p, _encode(v)) for p, v in problems_of.items() if v)
        )
        problems = [
            q
            for p, text in db.execute("SELECT path, problems FROM snap_problems")
            for q in warm.decode(p, text)
        ]
        kinds = Counter({k: n for k, n in kinds.items() if k and n > 0})
        outcome = Outcome(files, kinds, sorted(problems, key=lambda q: (q.path, q.pointer)))
        pending = (pending - set(new)) | {p for p, f in fresh.items() if not f.storable}
        _put_meta(db, index.state, outcome, sorted(pending), seal)
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise
    return outcome


def _rollback(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):  # nothing to roll back when BEGIN itself failed
        db.execute("ROLLBACK")


class _OnDisk(Set[str]):
    """The regular files of the project, asked of the disk one `lstat` at a time (what a scan's set of
    regular files would say, without the scan)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __contains__(self, relpath: object) -> bool:
        if not isinstance(relpath, str) or hidden(relpath):
            return False
        mode = _mode(self.root, relpath)
        return mode is not None and stat.S_ISREG(mode)

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError("the files on disk are asked one by one")

    def __len__(self) -> int:
        raise NotImplementedError("the files on disk are asked one by one")


def _mode(root: Path, relpath: str) -> int | None:
    try:
        return os.lstat(os.path.join(root, relpath)).st_mode
    except OSError:
        return None


def _is_file_or_odd(root: Path, relpath: str) -> bool:
    """What a folder scan yields for a path named like a record: anything there but a plain folder."""
    mode = _mode(root, relpath)
    return mode is not None and not stat.S_ISDIR(mode)


def _counted(relpath: str, facts: Facts) -> str:
    """The kind a file is counted under (a `.yml` file is counted nowhere, as `validate` does)."""
    return "" if facts.kind == "unknown" and relpath.endswith(".yml") else facts.kind


def _run_key(key: list[str]) -> str:
    """The key as compact JSON (`_COMPACT.encode(key)`), built by hand from its strings: the encoder's
    `encode` makes a new C encoder per call, twice the cost, 80k times at 100k files."""
    try:
        return "[" + ",".join([_quote(k) for k in key]) + "]"
    except TypeError:  # not a string (a key of another shape): the encoder says what it is
        return _COMPACT.encode(key)


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once: `json.dumps(**kw)` builds one per call
_quote = json.encoder.encode_basestring_ascii  # what _COMPACT (ensure_ascii) writes for a string


def _dep_rows(relpaths: Iterable[str], facts: dict[str, Facts]) -> Iterator[tuple[str, str]]:
    """(path, dep) of each path every file's check asked about."""
    for p in relpaths:
        for dep in {d[1] for d in facts[p].deps}:
            yield p, dep


def _sorted_dep_rows(relpaths: list[str], facts: dict[str, Facts]) -> Iterator[tuple[str, str]]:
    """(dep, path) rows in key order, for `relpaths` in path order: the paths of each dep come grouped and
    already sorted, so only the distinct deps are sorted, not every row (at 100k: 10k strings, not 220k
    tuples)."""
    by_dep: dict[str, list[str]] = {}
    for p in relpaths:
        for dep in {d[1] for d in facts[p].deps}:
            paths = by_dep.get(dep)
            if paths is None:
                by_dep[dep] = [p]
            else:
                paths.append(p)
    for dep in sorted(by_dep):
        for p in by_dep[dep]:
            yield dep, p


def _run_rows(relpaths: Iterable[str], facts: dict[str, Facts]) -> Iterator[tuple[str, str]]:
    for p in relpaths:
        key = facts[p].run_key
        if key:
            yield _run_key(key), p


def _encode(problems: list[Problem]) -> str:
    return json.dumps(
        [[q.message, q.fix, q.pointer, q.severity, q.code] for q in problems], separators=(",", ":")
    )


def _put_meta(
    db: sqlite3.Connection, state: IndexState, outcome: Outcome, pending: list[str], seal: str
) -> None:
    kinds = {k: n for k, n in outcome.kinds.items()}
    values = {
        "state": state.encode(),
        "kinds": json.dumps(kinds),
        "files": str(outcome.files),
        "pending": json.dumps(pending),
        "seal": seal,  # what lets `cache.warm` answer from these tables without importing the checks
    }
    db.executemany("INSERT OR REPLACE INTO snap_meta VALUES (?, ?)", values.items())


def _select(db: sqlite3.Connection, sql: str, paths: Iterable[str]) -> set[str]:
    return {p for (p,) in rows_in(db, sql, paths)}
