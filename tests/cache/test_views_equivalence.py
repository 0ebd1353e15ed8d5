"""`status` and `eval scores` from the cached per-run rows say exactly what they say from the records.

Random edit sequences on a real git project with the ticket-routing task (label scores, two raters): runs
created, edited, deleted; annotations from two raters (disputes included), edited and deleted; judge results
current, from an older judge definition (stale), with errors, of deleted runs; edits of task.yaml, the eval
(filters, scores), a judge (every result goes stale), a split; commits and checkouts. After every step the
JSON output of both commands with the cache equals the output with `KILNGIT_NO_CACHE=1`, byte for byte.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from kilngit import layout
from kilngit import status as status_module
from kilngit.cache import views
from kilngit.cache.views import open_view
from kilngit.cli.main import main
from kilngit.evals import board_patch, board_view
from kilngit.project import Project
from kilngit.records import Annotation, DatasetSplit, Eval, Judge, JudgeResult, Rating, TaskRun
from kilngit.records.canonical import to_file_bytes
from kilngit.records.common import Source, Usage
from kilngit.records.evals import judge_hash
from tests.conftest import git
from tests.tickets import LABELS, TASK, make_tickets

COMMANDS = (["status", "--format", "json"], ["eval", "scores", "--task", TASK, "--format", "json"])
# The printed forms too (rich tables, Markdown), checked every few steps: they take another path in the CLI.
TEXT_COMMANDS = (["status"], ["eval", "scores", "--task", TASK], ["eval", "scores", "--format", "markdown"])


def _out(root: Path, args: list[str], monkeypatch: pytest.MonkeyPatch, cache: bool) -> str:
    if not cache:
        monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    buf = io.StringIO()
    try:
        with redirect_stdout(buf):
            code = main(["-C", str(root), *args])
    finally:
        monkeypatch.delenv("KILNGIT_NO_CACHE", raising=False)
    return f"{code}\n{buf.getvalue()}"


def _same(root: Path, monkeypatch: pytest.MonkeyPatch, step: str, text: bool = False) -> None:
    for args in (*COMMANDS, *(TEXT_COMMANDS if text else ())):
        fresh = _out(root, args, monkeypatch, cache=False)
        assert _out(root, args, monkeypatch, cache=True) == fresh, f"{step}: {' '.join(args)}"


def _routing(project: Project, eval_set: str = "tag::eval_set", threshold: float = 0.7) -> None:
    ev = Eval(
        name="routing",
        scores=[
            {"name": "category", "type": "label", "instruction": "Which class the answer names."},
            {"name": "polite", "type": "pass_fail", "instruction": "A bare class name."},
        ],
        default_judge="exact",
        eval_set=eval_set,
        golden_set="tag::golden",
        thresholds={"category": threshold},
    )
    project.write_definition(layout.eval_file(TASK, "routing"), ev)


class Editor:
    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.commits = [git(root, "rev-parse", "HEAD")]

    @property
    def project(self) -> Project:
        return Project(self.root)

    def files(self, folder: str) -> list[Path]:
        base = self.root / layout.task_dir(TASK) / folder
        return sorted(p for p in base.rglob("*.json") if p.is_file()) if base.is_dir() else []

    def run_ids(self) -> list[str]:
        return [p.stem for p in self.files("runs")]

    def create_run(self) -> None:
        rng = self.rng
        config = rng.choice(["sharp", "sloppy", None])
        source = Source(type="synthetic", provider="mock", model=f"{config}-model", run_config=config)
        failed = rng.random() < 0.15
        run = TaskRun(
            task=TASK,
            input=f"ticket {rng.randrange(12)}",
            input_source=Source(type="human", created_by="a@example.com"),
            output=None if failed else rng.choice(LABELS),
            output_source=None if failed else source,
            error={"type": "timeout", "message": "took too long"} if failed else None,
            usage=rng.choice(
                [None, Usage(cost=0.001 * rng.randrange(3), latency_ms=float(rng.randrange(900)))]
            ),
            tags=sorted(rng.sample(["eval_set", "golden", "x"], rng.randrange(3))),
        ).with_id()
        self.project.write_record(run)

    def annotate(self) -> None:
        runs = self.run_ids()
        if not runs:
            return self.create_run()
        rng = self.rng
        label = rng.choice(LABELS[:2])  # two classes: raters often agree, sometimes not (a dispute)
        self.project.write_record(
            Annotation(
                task=TASK,
                run=rng.choice(runs),
                rater=rng.choice(["ana@example.com", "ben@example.com"]),
                rating=Rating(type="label", label=label),
                requirements={"polite": Rating(type="pass_fail", value=float(rng.randrange(2)))},
                tags_added=rng.sample(["eval_set", "golden"], rng.randrange(2)),
                tags_removed=["x"] if rng.random() < 0.3 else [],
            )
        )

    def note(self) -> None:
        """An edit no scoreboard reads (an annotation's note): the next `eval scores` uses its stored board."""
        self.edit_annotation(lambda data: data.update(note=f"note {self.rng.random()}"))

    def relabel(self) -> None:
        """An annotation's label changed, nothing else: the input's class may change, and the next
        `eval scores` takes its stored board through it run by run."""

        def relabel(data: dict[str, Any]) -> None:
            rating = data["rating"]
            rating["label"] = self.rng.choice([x for x in LABELS[:3] if x != rating["label"]])

        self.edit_annotation(relabel)

    def judge(self) -> None:
        runs = self.run_ids()
        if not runs:
            return self.create_run()
        rng, project = self.rng, self.project
        ev, judges = project.evals(TASK)["routing"], project.judges(TASK, "routing")
        name = rng.choice(sorted(judges))
        current = judge_hash(judges[name], ev, judges)
        error = rng.random() < 0.1
        project.write_record(
            JudgeResult(
                task=TASK,
                eval="routing",
                judge=name,
                judge_hash=current if rng.random() < 0.8 else "0" * 16,
                run=rng.choice(runs) if rng.random() < 0.95 else "f" * 64,
                sample=rng.randrange(2),
                scores={} if error else {"polite": float(rng.randrange(2))},
                labels={} if error else {"category": rng.choice(LABELS)},
                error="crashed" if error else None,
            )
        )

    def replace_verdict(self) -> None:
        """A current judge result replaced by one with other scores (a new file, the old one gone): the next
        `eval scores` changes its stored board run by run (`kilngit.evals.board_patch`)."""
        project = self.project
        ev, judges = project.evals(TASK)["routing"], project.judges(TASK, "routing")
        current = {name: judge_hash(j, ev, judges) for name, j in judges.items()}
        found = []
        for path in self.files("evals"):
            with contextlib.suppress(ValueError):  # truncated by an earlier step
                result = JudgeResult.model_validate_json(path.read_bytes())
                if result.judge_hash == current.get(result.judge):
                    found.append((path, result))
        if not found:
            return self.judge()
        path, old = self.rng.choice(found)
        path.unlink()
        rng = self.rng
        error = rng.random() < 0.1
        update = {
            "scores": {} if error else {"polite": 1.0 - old.scores.get("polite", 0.0)},
            "labels": {} if error else {"category": rng.choice(LABELS)},
            "error": "crashed" if error else None,
        }
        project.write_record(old.model_copy(update=update).with_id())

    def unjudge(self) -> None:
        """A judge result deleted: its run's verdict from that judge goes (or an older result's comes back)."""
        files = self.files("evals")
        if not files:
            return self.judge()
        self.rng.choice(files).unlink()

    def flip(self) -> None:
        """An annotation's pass/fail rating flipped (status's counts; no scoreboard reads it)."""

        def flip(data: dict[str, Any]) -> None:
            polite = data["requirements"]["polite"]
            polite["value"] = 1.0 - polite["value"]

        self.edit_annotation(flip)

    def edit_annotation(self, change: Callable[[dict[str, Any]], None]) -> None:
        """`change` one annotation file's fields in place (a new annotation when there is none, or when the
        one picked was truncated by an earlier step)."""
        files = self.files("annotations")
        if not files:
            return self.annotate()
        path = self.rng.choice(files)
        try:
            data = json.loads(path.read_bytes())
            change(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.annotate()
        path.write_bytes(to_file_bytes(data))

    def delete_run(self) -> None:
        files = self.files("runs")
        if files:
            self.rng.choice(files).unlink()

    def delete(self) -> None:
        files = self.files(self.rng.choice(["runs", "annotations", "evals"]))
        if files:
            self.rng.choice(files).unlink()

    def edit_run(self) -> None:
        """Rewrite a run file with other content (a hand edit: its ID no longer matches)."""
        files = self.files("runs")
        if files:
            path = self.rng.choice(files)
            path.write_bytes(path.read_bytes().replace(b'"billing"', b'"bug"'))

    def truncate(self) -> None:
        files = self.files(self.rng.choice(["annotations", "evals"]))
        if files:
            path = self.rng.choice(files)
            path.write_bytes(path.read_bytes()[: self.rng.randrange(1, 40)])

    def edit_definitions(self) -> None:
        rng, project = self.rng, self.project
        what = rng.choice(["eval", "judge", "task", "split"])
        if what == "eval":
            _routing(project, rng.choice(["tag::eval_set", "all", "has_output & !tag::x"]), rng.random())
        elif what == "judge":
            score = rng.choice(["category", "polite"])
            project.write_definition(
                layout.judge_file(TASK, "routing", "exact"), Judge(type="exact_match", score=score)
            )
        elif what == "task":
            path = project.root / layout.task_file(TASK)
            path.write_text(path.read_text() + f"# edited {rng.random()}\n")
        else:
            project.write_definition(
                layout.split_file(TASK, "main"),
                DatasetSplit(
                    filter="all",
                    parts=[{"name": "train", "fraction": 0.5}, {"name": "test", "fraction": 0.5}],
                    seed=rng.randrange(9),
                ),
            )

    def commit(self) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "step", "--allow-empty")
        self.commits.append(git(self.root, "rev-parse", "HEAD"))

    def checkout(self) -> None:
        self.commit()
        git(self.root, "checkout", "-q", self.rng.choice(self.commits[:-1]), "--", ".")
        git(self.root, "clean", "-qfd", "tasks")


def _setup(project: Project) -> None:
    make_tickets(project)
    _routing(project)
    for name, score in (("exact", "category"), ("reference", "polite")):
        project.write_definition(
            layout.judge_file(TASK, "routing", name), Judge(type="exact_match", score=score)
        )
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "tickets")


def test_verdict_edits_change_the_stored_board(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge results replaced one by one, labels edited between: `eval scores` takes the stored board
    through the edits (`kilngit.evals.board_patch`) and says what it says from the records."""
    _setup(project)
    patches: list[bool] = []

    def patch(*args: object) -> object:
        board = patch_board(*args)  # type: ignore[arg-type]
        patches.append(board is not None)
        return board

    patch_board = board_patch.patched
    monkeypatch.setattr(board_patch, "patched", patch)
    editor = Editor(project.root, random.Random(7))
    for _ in range(12):
        editor.judge()
    _same(project.root, monkeypatch, "judged")
    for i in range(10):
        editor.replace_verdict()
        if i % 2:
            editor.replace_verdict()  # two edits before the next command: one refresh, two verdicts
        if i % 4 == 3:
            editor.annotate()  # tags too: the board is computed afresh
        _same(project.root, monkeypatch, f"step {i}", text=i % 3 == 2)
        editor.relabel()
        _same(project.root, monkeypatch, f"step {i} relabel")
    assert patches.count(True) >= 10, patches


@pytest.mark.parametrize("seed", [11, 12])
def test_verdicts_that_come_and_go(project: Project, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Verdicts that come (a run judged), go (a result deleted) or change score, between label edits,
    flipped ratings, notes and runs deleted or created: after each step both commands say what they say
    from the records, and `eval scores` takes its stored board through the verdicts that came or went."""
    _setup(project)
    patched: list[tuple[bool, bool]] = []  # (the board was patched, an edit was a verdict that came or went)

    def patch(*args: Any) -> object:
        board = patch_board(*args)
        patched.append((board is not None, any(e[0] == "v" and None in e[4:] for e in args[5])))
        return board

    patch_board = board_patch.patched
    monkeypatch.setattr(board_patch, "patched", patch)
    rng = random.Random(seed)
    editor = Editor(project.root, rng)
    for _ in range(6):
        editor.judge()
    steps = [
        (editor.judge, 4),
        (editor.unjudge, 3),
        (editor.replace_verdict, 3),
        (editor.relabel, 1),
        (editor.flip, 1),
        (editor.note, 1),
        (editor.delete_run, 1),
        (editor.create_run, 1),
        (editor.commit, 1),
    ]
    _same(project.root, monkeypatch, "start")
    for i in range(30):
        step = rng.choices([s for s, _ in steps], [w for _, w in steps])[0]
        step()
        if rng.random() < 0.3:
            editor.judge()  # two edits before the next command: one refresh
        _same(project.root, monkeypatch, f"step {i} {step.__name__}", text=i % 10 == 9)
    assert (True, True) in patched, patched


@pytest.mark.parametrize(("seed", "git_index"), [(1, True), (2, True), (3, False)])
def test_views_match_the_records(
    project: Project, monkeypatch: pytest.MonkeyPatch, seed: int, git_index: bool
) -> None:
    """Changes found by git (`kilngit.cache.index`), or without it by walking folders and comparing keys."""
    if not git_index:
        monkeypatch.setenv("KILNGIT_NO_GIT_INDEX", "1")
    _setup(project)
    used: list[bool] = []

    def counting(*args: object) -> object:
        view = open_view(*args)  # type: ignore[arg-type]
        used.append(view is not None)
        return view

    monkeypatch.setattr(status_module, "open_view", counting)
    monkeypatch.setattr(board_view, "open_view", counting)
    stored: list[bool] = []

    def rebuilt(text: str | None) -> object:
        board = rebuild(text)
        stored.append(board is not None)
        return board

    rebuild = board_view._rebuilt
    monkeypatch.setattr(board_view, "_rebuilt", rebuilt)
    carried: list[bool] = []  # status's counts carried over a refresh instead of summed afresh

    def carry(*args: object) -> object:
        numbers = carry_over(*args)  # type: ignore[arg-type]
        carried.append(numbers is not None)
        return numbers

    carry_over = views.carried
    monkeypatch.setattr(views, "carried", carry)
    rng = random.Random(seed)
    editor = Editor(project.root, rng)
    steps = [
        (editor.create_run, 3),
        (editor.annotate, 4),
        (editor.note, 2),
        (editor.judge, 4),
        (editor.replace_verdict, 3),
        (editor.relabel, 2),
        (editor.delete, 2),
        (editor.edit_run, 1),
        (editor.truncate, 1),
        (editor.edit_definitions, 1),
        (editor.commit, 1),
        (editor.checkout, 1),
    ]
    _same(project.root, monkeypatch, "start", text=True)
    for i in range(20):
        step = rng.choices([s for s, _ in steps], [w for _, w in steps])[0]
        step()
        _same(project.root, monkeypatch, f"step {i} {step.__name__}", text=i % 5 == 4)
    assert sum(used) > len(used) / 3, "the cached rows were hardly used (odd files all along?)"
    assert any(stored) and not all(stored), "stored scoreboards were never (or always) used"
    assert any(carried), "status's counts were never carried over a refresh"
