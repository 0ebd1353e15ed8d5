"""Terminal input and display for the labeling queue, for plain terminals over SSH as well as pipes.

* `Keys` reads one keystroke at a time with the terminal in cbreak mode (termios) when stdin is a TTY, and
  falls back to one line per key (the first character of each line) otherwise, so the queue can be scripted:
  `printf 'p\\nf\\nq\\n' | kilngit label`.
* `text_view` shows a run's text readably: code blocks kept as code, JSON pretty-printed, anything else as
  plain text (never interpreted as markup); `Pages` splits a long view into screenfuls.
"""

from __future__ import annotations

import json
import os
import re
import select
import sys
import termios
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.syntax import Syntax
from rich.text import Text

QUIT = "q"
_FENCE = re.compile(r"^```(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class Keys:
    """Single keystrokes and lines of text from stdin.

    In a terminal, use it as a context manager: the terminal stays in cbreak mode (no echo, no line buffering)
    for the whole session, so keys typed while a run is still being drawn are kept, not flushed."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdin
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self._saved: list[Any] | None = None

    def __enter__(self) -> Keys:
        if self.tty:
            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            self._cbreak()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def _cbreak(self) -> None:
        assert self._saved is not None
        mode = list(self._saved)
        mode[3] &= ~(termios.ECHO | termios.ICANON)  # lflag
        mode[6] = list(mode[6])
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.stream.fileno(), termios.TCSANOW, mode)  # TCSANOW: keep typed-ahead keys

    def key(self) -> str:
        """One key ("q" at end of input or on Ctrl-D; "" for an empty line or a key that is no command)."""
        if self._saved is None:
            line = self.stream.readline()
            if not line:
                return QUIT
            text = line.strip()
            return text[:1] if text else ""
        fd = self.stream.fileno()
        data = os.read(fd, 1)
        if data in (b"", b"\x04"):
            return QUIT
        if data == b"\x1b" or data[0] >= 0x80:  # an escape sequence (arrow keys) or a non-ASCII character
            while select.select([fd], [], [], 0.02)[0]:
                os.read(fd, 16)
            return ""
        return "\n" if data == b"\r" else data.decode("ascii")

    def line(self) -> str | None:
        """A line of text (without its newline), or None at end of input."""
        if self._saved is None:
            line = self.stream.readline()
            return line.rstrip("\r\n") if line else None

        fd = self.stream.fileno()
        termios.tcsetattr(fd, termios.TCSANOW, self._saved)  # cooked mode: echo and line editing
        try:
            data = os.read(fd, 65536)  # in canonical mode a read returns one line
        finally:
            self._cbreak()
        return data.decode("utf-8", errors="replace").rstrip("\r\n") if data else None


def text_view(text: str) -> RenderableType:
    """A readable renderable for a run's input or output: shown verbatim (never read as markup), with fenced
    code blocks framed and highlighted as code, and JSON pretty-printed."""
    if "```" in text:
        return Group(*_fenced_parts(text))
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            value = json.loads(stripped)
        except ValueError:
            pass
        else:
            return Syntax(
                json.dumps(value, indent=2, ensure_ascii=False), "json", theme="ansi_dark", word_wrap=True
            )
    return Text(text)


def _fenced_parts(text: str) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for i, chunk in enumerate(_FENCE.split(text)):
        if i % 2 == 0:
            if chunk.strip("\n"):
                parts.append(Text(chunk.strip("\n")))
            continue
        lang, _, code = chunk.partition("\n")
        lang = lang.strip() or "text"
        parts.append(
            Panel(
                Syntax(code.rstrip("\n"), lang, theme="ansi_dark", word_wrap=False),
                title=lang,
                title_align="left",
                border_style="dim",
            )
        )
    return parts


@dataclass
class _Lines:
    """Already rendered lines, printed as they are."""

    lines: list[list[Segment]]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield from line
            yield Segment.line()


class Pages:
    """A renderable cut into pages of at most `height` lines."""

    def __init__(self, console: Console, renderable: RenderableType, height: int) -> None:
        self.lines = console.render_lines(renderable, console.options, pad=False)
        self.height = max(5, height)
        self.page = 0

    @property
    def count(self) -> int:
        return max(1, -(-len(self.lines) // self.height))

    def current(self) -> _Lines:
        start = self.page * self.height
        return _Lines(self.lines[start : start + self.height])

    def next(self) -> None:
        """The next page, back to the first after the last."""
        self.page = (self.page + 1) % self.count

    def footer(self) -> str | None:
        """e.g. "lines 1-30 of 120 (m: more)", None when everything fits."""
        if self.count == 1:
            return None
        start = self.page * self.height
        end = min(start + self.height, len(self.lines))
        return f"lines {start + 1}-{end} of {len(self.lines)} (m: more)"
