"""Queries of one task's per-run rows in `.kilngit/cache/views.sqlite` (`kilngit.cache.views` keeps them up to
date; `open_view` hands out a `View`): what `status` counts and what `eval scores` aggregates."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from typing import Any

from kilngit.run_rows import RunRow, Verdict

#: The runs on one input, looked up in the index on (task, input) and joined from there (CROSS JOIN keeps
#: that order). Left to itself, SQLite (no table statistics) walked the eval's members, or every run of the
#: task, to find them: 9-100 ms a query at 100k records, several per `eval scores` after a verdict edit.
_BY_INPUT = "runs r INDEXED BY runs_input"


class View:
    """The stored rows of one task, up to date with its files (read with the methods below)."""

    def __init__(self, db: sqlite3.Connection, task: str) -> None:
        self._db, self.task = db, task

    def close(self) -> None:
        self._db.close()

    def one(self, sql: str, *args: Any) -> Any:
        return self._db.execute(sql, (self.task, *args)).fetchone()[0]

    def generation(self) -> int:
        """The rows' generation: it grows whenever a row a scoreboard reads changes."""
        return int(self.one("SELECT gen FROM defs WHERE task = ?"))

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """A read transaction: the queries inside it see one state of the rows (another command may
        refresh them meanwhile)."""
        return _reading(self._db)

    def board(self, eval_slug: str, judge: str, code: str) -> tuple[int, str] | None:
        """(the generation it was computed from, the stored text) of the scoreboard stored by this `code`."""
        row = self._db.execute(
            "SELECT gen, board FROM boards WHERE task = ? AND eval = ? AND judge = ? AND code = ?",
            (self.task, eval_slug, judge, code),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def board_edits(self, since: int, until: int) -> list[list[Any]] | None:
        """The verdict edits (`kilngit.cache.board_edits`) that took the rows from generation `since` to
        `until`, oldest first; None when another change came between (then no stored board is of use)."""
        rows = self._db.execute(
            "SELECT gen, edits FROM board_edits WHERE task = ? AND gen > ? AND gen <= ? ORDER BY gen",
            (self.task, since, until),
        ).fetchall()
        if [g for g, _ in rows] != list(range(since + 1, until + 1)):
            return None
        return [edit for _, edits in rows for edit in json.loads(edits)]

    def board_run(self, eval_slug: str, run: str) -> tuple[Any, ...] | None:
        """(in the eval set, input, has output, input only, group, config hash) of a run (not in the eval set
        when it is no eval member: a run whose last verdict went), None when there is no such run."""
        row = self._db.execute(
            "SELECT coalesce(m.in_eval, 0), r.input, r.has_output, r.input_only, r.grp, r.config_hash FROM runs r"
            " LEFT JOIN members m ON m.task = r.task AND m.eval = ? AND m.run = r.run WHERE r.task = ? AND r.run = ?",
            (eval_slug, self.task, run),
        ).fetchone()
        return None if row is None else tuple(row)

    def input_runs(self, eval_slug: str, judge: str, digest: str) -> list[tuple[tuple[Any, ...], Verdict]]:
        """(`board_run`'s tuple, current verdict of `judge`) of the eval members on the input `digest` the
        scoreboard looks at (in the eval set, or judged by `judge`)."""
        rows = self._db.execute(
            "SELECT m.in_eval, r.input, r.has_output, r.input_only, r.grp, r.config_hash, v.scores, v.labels"
            f" FROM {_BY_INPUT} CROSS JOIN members m ON m.task = r.task AND m.eval = ? AND m.run = r.run"
            " LEFT JOIN verdicts v ON v.task = m.task AND v.eval = m.eval AND v.judge = ? AND v.run = m.run"
            " WHERE r.task = ? AND r.input = ? AND (m.in_eval OR instr(m.judges, ?))",
            (eval_slug, judge, self.task, digest, f"|{judge}|"),
        )
        return [
            (tuple(row[:6]), None if row[6] is None else (json.loads(row[6]), json.loads(row[7])))
            for row in rows
        ]

    def eval_input(self, eval_slug: str, digest: str) -> bool:
        """Whether a run in the eval set has this input."""
        row = self._db.execute(
            f"SELECT 1 FROM {_BY_INPUT} CROSS JOIN members m ON m.task = r.task AND m.eval = ? AND m.run = r.run"
            " WHERE r.task = ? AND r.input = ? AND m.in_eval LIMIT 1",
            (eval_slug, self.task, digest),
        ).fetchone()
        return row is not None

    def keep_board(self, eval_slug: str, judge: str, code: str, generation: int, board: str) -> None:
        """Store a scoreboard computed from the rows of `generation` (best effort: a busy or read-only
        database keeps none)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute(
                "INSERT OR REPLACE INTO boards SELECT ?, ?, ?, ?, ?, ? WHERE"
                " (SELECT gen FROM defs WHERE task = ?) = ?",
                (self.task, eval_slug, judge, generation, code, board, self.task, generation),
            )

    def numbers(self, evals: list[str]) -> dict[str, Any]:
        """What status counts: `counts`, `annotations_by_rater`, `problems`, and per eval `results` (as
        [judge, hash, n]) and `members`; stored per generation of the rows, so an edit that changes no count
        (a note) is answered by one row."""
        with self.reading():
            generation = int(self.one("SELECT sgen FROM defs WHERE task = ?"))
            row = self._db.execute(
                "SELECT s.numbers FROM stats s JOIN defs d ON d.task = s.task AND d.sgen = s.gen WHERE s.task = ?",
                (self.task,),
            ).fetchone()
            if row is not None and (stored := json.loads(row[0])).get("evals") == evals:
                return dict(stored)
            numbers = {
                "evals": evals,
                "counts": self.counts(),
                "annotations_by_rater": self.annotations_by_rater(),
                "problems": self.problems(),
                "results": {e: [[j, h, n] for (j, h), n in sorted(self.results(e).items())] for e in evals},
                "members": {e: self.members(e) for e in evals},
            }
        with contextlib.suppress(sqlite3.Error):  # best effort: a busy database keeps none
            self._db.execute(
                "INSERT OR REPLACE INTO stats SELECT ?, ?, ? WHERE (SELECT sgen FROM defs WHERE task = ?) = ?",
                (self.task, generation, json.dumps(numbers), self.task, generation),
            )
        return numbers

    def counts(self) -> dict[str, int]:
        """Totals over the task's runs (status's counts)."""
        row = self._db.execute(
            "SELECT count(*), total(input_only), total(failed), total(rated AND has_output), total(has_output),"
            " total(disputed) FROM runs WHERE task = ?",
            (self.task,),
        ).fetchone()
        names = ("runs", "input_only", "failed", "rated", "with_output", "disputed")
        return {n: int(v) for n, v in zip(names, row, strict=True)}

    def problems(self) -> int:
        return int(self.one("SELECT total(problems) FROM files WHERE task = ? AND problems > 0"))

    def annotations_by_rater(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT rater, count(*) FROM files WHERE task = ? AND kind = 'annotation' AND valid = 1 GROUP BY rater",
            (self.task,),
        )
        return dict(sorted(rows.fetchall()))

    def results(self, eval_slug: str) -> Counter[tuple[str, str]]:
        """(judge, judge hash) -> number of loadable results of the eval."""
        rows = self._db.execute(
            "SELECT judge, jhash, count(*) FROM files WHERE task = ? AND kind = 'judge_result' AND valid = 1"
            " AND eval = ? GROUP BY judge, jhash",
            (self.task, eval_slug),
        )
        return Counter({(j, h): n for j, h, n in rows})

    def members(self, eval_slug: str) -> dict[str, int]:
        row = self._db.execute(
            "SELECT total(in_eval), total(in_golden), total(in_eval AND has_output AND NOT done) FROM members"
            " WHERE task = ? AND eval = ?",
            (self.task, eval_slug),
        ).fetchone()
        return {"eval_set": int(row[0]), "golden_set": int(row[1]), "missing": int(row[2])}

    def board_rows(self, eval_slug: str, judge: str) -> list[tuple[bool, RunRow, Verdict]]:
        """(in the eval set, row, current verdict of `judge`) of the runs the scoreboard looks at: the eval
        set, then the runs with a current verdict from `judge`, each in run ID order. Rows carry only
        what the scoreboard reads."""
        rows = self._db.execute(
            "SELECT m.in_eval, r.run, r.input, r.has_output, r.input_only, r.grp, r.config_hash, r.has_usage,"
            " r.u_in, r.u_out, r.u_cost, r.u_lat, r.model, r.prompt, v.scores, v.labels FROM members m"
            " JOIN runs r ON r.task = m.task AND r.run = m.run LEFT JOIN verdicts v ON v.task = m.task"
            " AND v.eval = m.eval AND v.judge = ? AND v.run = m.run"
            " WHERE m.task = ? AND m.eval = ? AND (m.in_eval OR instr(m.judges, ?)) ORDER BY m.in_eval DESC, m.run",
            (judge, self.task, eval_slug, f"|{judge}|"),
        )
        parsed: dict[str, Any] = {}  # most verdicts say the same few things: decode each text once

        def load(text: str) -> Any:
            if text not in parsed:
                parsed[text] = json.loads(text)
            return parsed[text]

        out = []
        for (
            in_eval,
            run,
            digest,
            has_output,
            input_only,
            grp,
            cfg,
            has_usage,
            *usage,
            model,
            prompt,
            sc,
            lb,
        ) in rows:
            row = RunRow(
                run,
                digest,
                bool(has_output),
                bool(input_only),
                False,
                False,
                False,
                grp,
                cfg,
                tuple(usage) if has_usage else None,  # type: ignore[arg-type]
                None if model is None else (model, prompt),
                (0, None),
                {},
                {},
            )
            out.append((bool(in_eval), row, None if sc is None else (load(sc), load(lb))))
        return out

    def truth_rows(self, digest: str | None = None) -> list[tuple[str, int, str | None]]:
        """(input digest, truth kind, label) of every run (on the input `digest`) whose overall consensus is
        a label rating."""
        if digest is None:
            rows = self._db.execute(
                "SELECT input, truth, label FROM runs WHERE task = ? AND truth", (self.task,)
            )
        else:
            rows = self._db.execute(
                f"SELECT input, truth, label FROM {_BY_INPUT} WHERE task = ? AND input = ? AND truth",
                (self.task, digest),
            )
        return rows.fetchall()


@contextlib.contextmanager
def _reading(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")
