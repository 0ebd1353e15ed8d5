"""The interactive labeling session: shows each run of a `LabelQueue` and maps one keystroke to one action."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from kilngit.errors import KilngitError
from kilngit.records import Requirement
from kilngit.review.label import LabelQueue
from kilngit.review.rating import RatingChange, describe_annotation, parse_overall
from kilngit.review.terminal import QUIT, Keys, Pages, text_view

HELP: tuple[tuple[str, str], ...] = (
    ("p f c", "overall pass / fail / critical, then the next run"),
    ("1-5", "overall stars, then the next run"),
    ("r", "rate the task's requirements one by one"),
    ("n", "write a note ('-' removes yours)"),
    ("t", "tags: 'golden -draft' adds golden and removes draft"),
    ("m", "more of a long input or output"),
    ("s", "skip this run"),
    ("u", "undo the last change (or skip)"),
    ("q", "quit; everything given so far is saved"),
    ("?", "this help"),
)
_HINT = "[p]ass [f]ail [c]ritical [1-5] stars [r]equirements [n]ote [t]ag [s]kip [u]ndo [q]uit [?]help"
_OVERALL = {"p": "pass", "f": "fail", "c": "critical", **{str(i): str(i) for i in range(1, 6)}}
_REQUIREMENT_KEYS = {"pass_fail": "pf", "pass_fail_critical": "pfc", "five_star": "12345"}


@dataclass(frozen=True)
class LabelSummary:
    rated: int
    skipped: int
    remaining: int


class LabelSession:
    """Runs the loop: show the current run, read a key, act, until the rater quits."""

    def __init__(
        self,
        queue: LabelQueue,
        requirements: list[Requirement],
        console: Console,
        keys: Keys,
        notes: dict[str, list[str]] | None = None,
    ) -> None:
        self.queue, self.requirements, self.console, self.keys = queue, requirements, console, keys
        self.notes = notes or {}
        """run -> lines shown under it (e.g. the evidence of a label audit)."""
        self.pages: Pages | None = None

    def run(self) -> LabelSummary:
        """Label until the rater quits (q, Ctrl-C, end of input) or the queue ends; everything is saved."""
        with self.keys:
            try:
                self._loop()
            except KeyboardInterrupt:
                self.console.print("interrupted")
        return LabelSummary(
            self.queue.rated, self.queue.skipped, len(self.queue.run_ids) - self.queue.position
        )

    def _loop(self) -> None:
        shown: int | None = None
        while True:
            if self.queue.finished:
                self.console.print(
                    f"[bold]queue finished[/bold] ({len(self.queue.run_ids)} runs): "
                    "u undo, any other key quits"
                )
                if self.keys.key() != "u":
                    break
                self._undo()
                continue
            if shown != self.queue.position:
                self._show()
                self.queue.shown()
                shown = self.queue.position
            key = self.keys.key().lower()
            if key == QUIT:
                break
            try:
                if not self._act(key):
                    shown = None  # show the run again after an undo
            except KilngitError as e:  # e.g. an invalid tag: say so and stay on the run
                self.console.print(f"[red]error:[/red] {escape(str(e))}")

    def _act(self, key: str) -> bool:
        """Do what `key` asks; False when the current run must be shown again."""
        if key in _OVERALL:
            self._saved(self.queue.rate(RatingChange(overall=parse_overall(_OVERALL[key]))))
        elif key == "r":
            self._requirements()
        elif key == "n":
            self._note()
        elif key == "t":
            self._tags()
        elif key == "s":
            self.queue.skip()
            self.console.print("skipped")
        elif key == "u":
            self._undo()
            return False
        elif key == "m" and self.pages is not None:
            self.pages.next()
            self._print_pages()
        elif key == "?":
            table = Table(show_header=False, box=None)
            for keys, what in HELP:
                table.add_row(f"[bold]{keys}[/bold]", what)
            self.console.print(table)
        elif key:
            self.console.print(f"unknown key {key!r}; ? for help", markup=False)
        return True

    def _show(self) -> None:
        run_id = self.queue.current
        assert run_id is not None
        store = self.queue.store
        run, state = store.run(run_id), store.state(run_id)
        if self.console.is_terminal:
            self.console.clear()
        source = run.output_source
        made_by = (
            (source.run_config or source.model or source.created_by or source.type) if source else "no output"
        )
        tags = f" · tags {', '.join(sorted(state.tags))}" if state.tags else ""
        title = f"{self.queue.position + 1}/{len(self.queue.run_ids)} · run {run_id} · {run.task} · {made_by}{tags}"
        self.console.print(Rule(Text(title), align="left"))
        parts = [Panel(text_view(run.input), title="input", title_align="left")]
        if run.reasoning:
            parts.append(Panel(text_view(run.reasoning), title="reasoning", title_align="left", style="dim"))
        body = text_view(run.output) if run.output is not None else Text(f"(no output: {run.error})")
        parts.append(Panel(body, title="output", title_align="left"))
        self.pages = Pages(self.console, Group(*parts), self.console.height - 8)
        self._print_pages()
        mine = store.load(run_id)
        if mine is not None:
            self.console.print(f"you: {describe_annotation(mine)}", markup=False)
        others = [a for a in state.annotations if a.rater != store.rater and (a.rating or a.requirements)]
        if others:
            said = "; ".join(f"{a.rater}: {describe_annotation(a)}" for a in others)
            self.console.print(f"others{' (disputed)' if state.disputed else ''}: {said}", markup=False)
        for line in self.notes.get(run_id, []):
            self.console.print(line, markup=False, highlight=False)
        self.console.print(_HINT, style="dim", markup=False, highlight=False)

    def _print_pages(self) -> None:
        assert self.pages is not None
        self.console.print(self.pages.current())
        footer = self.pages.footer()
        if footer:
            self.console.print(f"[dim]{footer}[/dim]")

    def _saved(self, annotation: object) -> None:
        self.console.print(f"saved: {describe_annotation(annotation)}", markup=False)  # type: ignore[arg-type]

    def _requirements(self) -> None:
        if not self.requirements:
            self.console.print("this task has no requirements")
            return
        given: dict[str, str] = {}
        for req in self.requirements:
            keys = _REQUIREMENT_KEYS[req.type]
            self.console.print(
                f"[bold]{req.name}[/bold] ({req.type}): {escape(req.instruction)}\n"
                f"  {' / '.join(keys)}, s or Enter to skip, q to cancel"
            )
            while True:
                key = self.keys.key().lower()
                if key in keys or key in ("s", "\n", "", QUIT):
                    break
            if key == QUIT:
                self.console.print("requirements cancelled")
                return
            if key in keys:
                given[req.name] = _OVERALL[key]
        if given:
            self._saved(self.queue.rate(RatingChange(requirements=given), advance=False))

    def _note(self) -> None:
        self.console.print("note (Enter to cancel, '-' removes yours):")
        text = self.keys.line()
        if text is None or not text.strip():
            self.console.print("no change")
            return
        self._saved(
            self.queue.rate(RatingChange(note="" if text.strip() == "-" else text.strip()), advance=False)
        )

    def _tags(self) -> None:
        self.console.print("tags ('-tag' removes; Enter to cancel):")
        words = (self.keys.line() or "").split()
        add = tuple(w for w in words if not w.startswith("-"))
        remove = tuple(w[1:] for w in words if w.startswith("-") and len(w) > 1)
        if not add and not remove:
            self.console.print("no change")
            return
        self._saved(self.queue.rate(RatingChange(tags_add=add, tags_remove=remove), advance=False))

    def _undo(self) -> None:
        step = self.queue.undo()
        if step is None:
            self.console.print("nothing to undo")
        else:
            what = "skip" if not step.saved else describe_annotation(step.after)
            self.console.print(f"undone ({what}) on run {step.run_id}", markup=False)
