"""Find the commands in a model's answer: prose around fenced blocks, prompts, continuations, several steps.

Pure text work (no shell, no processes). Real answers look like::

    To make a high-quality GIF, first build a palette, then use it:

    ```bash
    $ ffmpeg -i clip.mp4 -vf palettegen palette.png   # pass 1
    ffmpeg -i clip.mp4 -i palette.png \\
           -lavfi paletteuse out.gif
    ```

Rules:

* Command text comes from fenced blocks (```` ``` ```` or ``~~~``, any shell-ish or empty language tag:
  bash, sh, shell, console, zsh...; blocks tagged with another language such as json or python are prose).
  Blocks that name no ffmpeg are skipped (a concat list shown as text, an example of ffprobe output).
  Without a fence, lines that start with ``ffmpeg`` (or a ``$ `` prompt and ffmpeg), or a single inline
  ```ffmpeg ...``` span, are the command text.
* In that text: ``$ `` / ``% `` prompts are dropped, backslash-newline continuations joined, ``#``
  comments (whole lines or after a word) removed; every line, and ``&&`` / ``;`` inside a line, starts
  a new step. Steps run in order in the same folder (two-pass encodes, palette then GIF...).
* Refused (the reason is reported, nothing runs): pipes, background ``&``, ``||``, subshells,
  backticks, ``$(...)`` / ``${...}`` / ``$VAR`` expansions, redirections other than to ``/dev/null``
  or between the standard streams, an unterminated quote.
* Each step is split into an argv with ``shlex`` (never a shell). ``ffmpeg`` steps run; ``mkdir``
  of plain relative folders is done by the judge itself; ``ffprobe``/``ffplay`` steps only look at files
  and are skipped; any other program is refused (see ``ffmpeg_policy.program_problems``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

SHELL_LANGS = frozenset(
    (
        "",
        "bash",
        "sh",
        "shell",
        "console",
        "zsh",
        "shellsession",
        "terminal",
        "cmd",
        "powershell",
        "ps",
        "ps1",
        "text",
        "txt",
        "plain",
        "plaintext",
        "ffmpeg",
        "none",
    )
)
_FENCE_RE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_PROMPT_RE = re.compile(r"^[ \t]*(?:[$%]|>>>)[ \t]+")
_FFMPEG_WORD = re.compile(r"(?<![\w./-])ffmpeg(?![\w.-])")
# An answer that is nothing but a command line starts with a program (or a prompt, a subshell, VAR=...).
_SHELL_START = re.compile(
    r"(?:[$%][ \t]+)?(?:[\w./-]+=\S*|/\S+|\(|(?:ffmpeg|ffprobe|ffplay|mkdir|rm|cp|mv|cd|sudo|"
    r"sh|bash|zsh|env|for|while|echo|cat|curl|wget|find|xargs|nohup|time|dd)(?:\s|$))"
)
NO_COMMAND = "no ffmpeg command found in the answer"
_NULL_REDIRECT = re.compile(r"^(?:\d?>>?|&>)\s*/dev/null$|^\d?>&\d$")


@dataclass
class Step:
    """One simple command of the answer, in the order it must run."""

    text: str  # as written (continuations joined, comments removed)
    argv: list[str]

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


@dataclass
class Extraction:
    """The steps found in an answer, or why it cannot be run as is."""

    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # reasons to refuse the whole answer
    notes: list[str] = field(default_factory=list)  # harmless things left out (redirections to /dev/null)
    source: str = "none"  # "fenced", "lines", "inline", "whole" or "none"
    prose: str = ""  # the answer without its command text (read for "this preset does not exist")

    def ffmpeg_steps(self) -> list[Step]:
        return [s for s in self.steps if s.program == "ffmpeg"]


def command_text(answer: str) -> tuple[str, str, str]:
    """``(command text, prose, source)`` of an answer (see the module docstring)."""
    text = (answer or "").replace("\r\n", "\n")
    blocks, prose = [], text
    for m in _FENCE_RE.finditer(text):
        lang = m.group(2).lower()
        if lang in SHELL_LANGS and _FFMPEG_WORD.search(m.group(3)):
            blocks.append(m.group(3))
            prose = prose.replace(m.group(0), "\n")
    if blocks:
        return "\n".join(blocks), prose, "fenced"
    stripped = text.strip()
    if _SHELL_START.match(stripped) and "\n\n" not in stripped:
        return stripped, "", "whole"
    lines, rest, cont = [], [], False
    for line in text.splitlines():
        start = cont or re.match(r"[ \t]*(?:[$%][ \t]+)?ffmpeg\s", line)
        (lines if start else rest).append(line)
        cont = bool(start) and line.rstrip().endswith("\\")
    if lines:
        return "\n".join(lines), "\n".join(rest), "lines"
    inline = re.findall(r"`(ffmpeg\s[^`\n]+)`", text)
    if inline:
        return inline[0], text.replace(f"`{inline[0]}`", " "), "inline"
    return "", text, "none"


def split_steps(body: str) -> tuple[list[str], list[str], list[str]]:
    """Scan command text as a POSIX shell would, without running anything.

    Returns ``(simple commands, problems, notes)``; a simple command ends at a newline, ``;`` or ``&&``.
    """
    cmds: list[str] = []
    problems: list[str] = []
    cur: list[str] = []
    quote = None
    word_start = True
    i, n = 0, len(body)

    def end_command() -> None:
        line = "".join(cur).strip()
        if line:
            cmds.append(_PROMPT_RE.sub("", line, count=1))
        cur.clear()

    def expansion(j: int) -> bool:
        nxt = body[j + 1] if j + 1 < n else ""
        return nxt in "({" or nxt.isalpha() or nxt in "_@*#?$!"

    while i < n:
        c = body[i]
        if quote == "'":
            quote = None if c == "'" else quote
            cur.append(c)
            i += 1
            continue
        if c == "\\":
            if body[i + 1 : i + 2] == "\n":  # continuation
                i += 2
                continue
            cur.append(body[i : i + 2])
            i += 2
            word_start = False
            continue
        if quote == '"':
            if c == '"':
                quote = None
            elif c == "`":
                problems.append("command substitution (backticks)")
            elif c == "$" and expansion(i):
                problems.append("shell expansion ($...)")
            cur.append(c)
            i += 1
            continue
        if c == "#" and word_start:  # a comment runs to the end of the line
            while i < n and body[i] != "\n":
                i += 1
            continue
        if c in "'\"":
            quote = c
        elif c == "\n":
            end_command()
            word_start = True
            i += 1
            continue
        elif c in ";&|":
            op = re.match(r"[;&|]+", body[i:]).group(0)  # type: ignore[union-attr]
            if op in (";", "&&"):
                end_command()
                i += len(op)
                word_start = True
                continue
            if op == "&" and body[i + 1 : i + 2] == ">" or (op == "&" and cur and cur[-1] == ">"):
                pass  # "&>" / ">&" redirection: judged with the redirection below
            else:
                what = {"|": "a pipe", "||": "'||'", "&": "a background job ('&')"}.get(op, repr(op))
                problems.append(f"shell operator {op!r} ({what})")
        elif c in "()":
            problems.append("subshell parentheses")
        elif c == "`":
            problems.append("command substitution (backticks)")
        elif c == "$" and expansion(i):
            problems.append("shell expansion ($...)")
        cur.append(c)
        word_start = c in " \t"
        i += 1
    if quote:
        problems.append("unterminated quote")
    end_command()
    return cmds, list(dict.fromkeys(problems)), []


def _redirections(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Drop harmless redirections (to /dev/null, between std streams); refuse any other."""
    out, problems, notes = [], [], []
    i = 0
    while i < len(argv):
        tok = argv[i]
        m = re.fullmatch(r"(\d?>>?|&>|<)(.*)", tok)
        if m:
            target = m.group(2) or (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if m.group(2) else 2
            spelled = m.group(1) + target
            if _NULL_REDIRECT.match(spelled) or re.fullmatch(r"\d?>&\d", spelled):
                notes.append(f"left out the redirection {spelled!r} (output is discarded anyway)")
            elif m.group(1) == "<":
                problems.append(f"input redirection {spelled!r}")
            elif target.startswith("/") or ".." in target.split("/") or target.startswith("~"):
                problems.append(f"redirection to a path outside the working folder ({spelled!r})")
            else:
                problems.append(f"redirection into a file ({spelled!r}): only ffmpeg writes files here")
            continue
        out.append(tok)
        i += 1
    return out, problems, notes


def extract(answer: str) -> Extraction:
    """All steps of an answer, or the problems that make it unsafe to run (see the module docstring)."""
    body, prose, source = command_text(answer)
    result = Extraction(source=source, prose=prose)
    if not body.strip():
        result.problems.append(NO_COMMAND)
        return result
    cmds, problems, result.notes = split_steps(body)
    result.problems += problems
    for line in cmds:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            result.problems.append(f"cannot parse {line[:60]!r}: {exc}")
            continue
        argv, problems, notes = _redirections(argv)
        result.problems += problems
        result.notes += notes
        if argv:
            result.steps.append(Step(line, argv))
    result.problems = list(dict.fromkeys(result.problems))
    if not result.problems and not result.ffmpeg_steps():
        result.problems.append(NO_COMMAND)
    return result
