"""Run filters: the small language used everywhere a set of runs is chosen.

    all                      every run
    tag::NAME                runs whose effective tags include NAME
    rated / unrated          runs with / without any human rating
    disputed                 runs whose raters disagree
    has_output / input_only  runs with an output / inputs waiting to be run
    human_rating>=VALUE      consensus overall rating compared with VALUE (also >, <=, <, ==) on one
                             scale: pass 1, fail 0, critical -1, stars (r-1)/4 (5* = 1, 4* = 0.75);
                             VALUE is pass, fail, critical, 1*..5* or a number
    split::NAME/PART         runs in a part of a materialized dataset split
    config::SLUG             runs produced by a run config
    label::CLASS             runs whose consensus overall label rating is CLASS
    source::human|synthetic|file_import   who produced the output (or the input, for input-only runs)

Combine with `&` (or `,`), `|`, `!` and parentheses: `tag::eval_set & !tag::golden`, `rated | tag::x`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kilngit.errors import UsageError
from kilngit.ratings import NAMED_VALUES, normalize
from kilngit.state import RunState

Predicate = Callable[[RunState], bool]
SplitLookup = Callable[[str, str], frozenset[str]]

_TOKEN = re.compile(r"\s*(\(|\)|&|,|\||!|[^\s()&,|!]+)")
_COMPARE = re.compile(r"human_rating(>=|<=|==|=|>|<)(.+)")
_OPS = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "=": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class RunFilter:
    """A parsed filter expression; call `matches(state)` or `select(states)`."""

    text: str
    predicate: Predicate

    def matches(self, state: RunState) -> bool:
        return self.predicate(state)

    def select(self, states: Iterable[RunState]) -> list[RunState]:
        return [s for s in states if self.predicate(s)]


def parse_filter(text: str, splits: SplitLookup | None = None) -> RunFilter:
    """Parse a filter expression. `splits(name, part)` returns the run IDs of a split part."""
    tokens = _TOKEN.findall(text.strip())
    if not tokens:
        raise UsageError("empty run filter", "use `all` to choose every run")
    parser = _Parser(tokens, text, splits)
    predicate = parser.expr()
    if parser.pos != len(tokens):
        raise UsageError(
            f"unexpected {tokens[parser.pos]!r} in filter {text!r}", "see `kilngit help filters`"
        )
    return RunFilter(text, predicate)


class _Parser:
    def __init__(self, tokens: list[str], text: str, splits: SplitLookup | None) -> None:
        self.tokens, self.text, self.splits, self.pos = tokens, text, splits, 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        tok = self._peek()
        if tok is None:
            raise UsageError(f"filter {self.text!r} ends too early", "complete the expression")
        self.pos += 1
        return tok

    def expr(self) -> Predicate:
        parts = [self.term()]
        while self._peek() in ("|", "or"):
            self._take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda s: any(p(s) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self._peek() in ("&", ",", "and"):
            self._take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda s: all(p(s) for p in parts))

    def factor(self) -> Predicate:
        tok = self._take()
        if tok in ("!", "not"):
            inner = self.factor()
            return lambda s: not inner(s)
        if tok == "(":
            inner = self.expr()
            if self._take() != ")":
                raise UsageError(f"missing ')' in filter {self.text!r}", "balance the parentheses")
            return inner
        return self.atom(tok)

    def atom(self, tok: str) -> Predicate:
        simple: dict[str, Predicate] = {
            "all": lambda s: True,
            "rated": lambda s: s.rated,
            "unrated": lambda s: not s.rated,
            "disputed": lambda s: s.disputed,
            "has_output": lambda s: s.run.output is not None,
            "input_only": lambda s: s.run.input_only,
        }
        if tok in simple:
            return simple[tok]
        if tok.startswith("tag::"):
            return _has_tag(tok[5:])
        if tok.startswith("config::"):
            slug = tok[8:]
            return lambda s: s.run.output_source is not None and s.run.output_source.run_config == slug
        if tok.startswith("source::"):
            kind = tok[8:]
            return lambda s: (s.run.output_source or s.run.input_source).type == kind
        if tok.startswith("split::"):
            return self._split(tok[7:])
        if tok.startswith("label::"):
            label = tok[7:]
            return lambda s: s.rating is not None and s.rating.label == label
        m = _COMPARE.fullmatch(tok)
        if m:
            return _rating_predicate(_OPS[m.group(1)], _threshold(m.group(2)))
        raise UsageError(
            f"unknown filter term {tok!r}",
            "use all, tag::X, rated, unrated, disputed, human_rating>=X, split::NAME/PART, config::X",
        )

    def _split(self, spec: str) -> Predicate:
        name, _, part = spec.partition("/")
        if not name or not part:
            raise UsageError(f"split filter needs NAME/PART, got {spec!r}", "e.g. split::main/train")
        if self.splits is None:
            raise UsageError("split filters need a project", "run the command inside a project")
        members = self.splits(name, part)
        return lambda s: s.run.id in members


def _has_tag(tag: str) -> Predicate:
    """`tag in state.tags`, without building the tag set (the filter runs over every run of a task)."""

    def predicate(state: RunState) -> bool:
        annotations = state.annotations
        if annotations and any(tag in a.tags_removed for a in annotations):
            return False  # a removal wins
        return tag in state.run.tags or any(tag in a.tags_added for a in annotations)

    return predicate


def _threshold(text: str) -> float:
    """A comparison value on the normalized 0..1 scale."""
    text = text.strip().lower()
    if text in NAMED_VALUES:
        return NAMED_VALUES[text]
    stars = re.fullmatch(r"([1-5])\s*(\*|stars?)", text)
    if stars:
        return normalize(float(stars.group(1)), "five_star")
    try:
        value = float(text)
    except ValueError:
        raise UsageError(
            f"cannot compare a rating with {text!r}", "use pass, fail, critical, 1*..5* or a number in -1..1"
        ) from None
    if not -1 <= value <= 1:
        raise UsageError(f"rating {value:g} is outside -1..1", "for stars write e.g. 4* instead")
    return value


def _rating_predicate(op: Callable[[float, float], bool], threshold: float) -> Predicate:
    def predicate(state: RunState) -> bool:
        rating = state.rating
        if rating is None or rating.value is None:
            return False
        value = normalize(rating.value, rating.type) if rating.type == "five_star" else rating.value
        return bool(op(value, threshold))

    return predicate
