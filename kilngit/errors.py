"""One error hierarchy for kilngit, and the exit code each kind of failure maps to.

Known errors carry a message that says what went wrong and how to fix it; the CLI prints it without a
traceback and exits 1. Usage errors exit 2, bugs 3 (with a crash log), Ctrl-C 130.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`did you mean 'x'? ` when `name` is close to one of `known` (a typo), else the empty string."""
    import difflib  # here: every command imports errors, few suggest a name (difflib ~10 ms)

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class KilngitError(Exception):
    """A failure the user can fix; `hint` says how."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(KilngitError):
    """The command line itself is wrong (unknown option value, conflicting flags)."""

    exit_code = EXIT_USAGE


class ProjectNotFoundError(KilngitError):
    """No `kilngit.yaml` in the folder or any parent."""


class InvalidRecordError(KilngitError):
    """A record file cannot be read or does not match its schema."""

    def __init__(self, path: str, message: str, pointer: str = "", hint: str | None = None) -> None:
        where = f"{path}{'#' + pointer if pointer else ''}"
        super().__init__(f"{where}: {message}", hint)
        self.path = path
        self.pointer = pointer


class NewerFormatError(InvalidRecordError):
    """A record was written by a newer kilngit; we refuse rather than drop fields we do not know."""


class OldLayoutError(KilngitError):
    """The project is in an older folder layout: it can be read, but nothing is written until
    `kilngit migrate` moves it to the current one."""


class NotFoundError(KilngitError):
    """A named record (task, prompt, run, eval, ...) does not exist."""


class AmbiguousIdError(KilngitError):
    """An ID prefix matches more than one record."""


class GitError(KilngitError):
    """A git command failed; the message shows the command, its exit code and its output."""


class Interrupted(KilngitError):
    """Ctrl-C stopped a batch; what finished is kept and running the same command again resumes."""

    exit_code = EXIT_INTERRUPTED


class WorkLeft(KilngitError):
    """A batch ended with work it could not do (e.g. provider failures worth retrying later)."""


class ProviderError(KilngitError):
    """A model provider failed (after retries) or is misconfigured."""
