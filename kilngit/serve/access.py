"""Who may use the server and as whom: login tokens, sessions, CSRF tokens, and the raters file.

* Each person opens the server once with a secret token (`/?token=...`); the server answers with a session
  cookie (HttpOnly, SameSite=Strict, named after the port) and forgets nothing else about them.
* Without `--raters`, the token is made at start-up and printed; whoever has it acts as the local git
  identity (like a Jupyter server's token).
* With `--raters FILE` (kept outside the repository, so it is never committed), each line maps a secret token
  to a rater identity: `s3cret-token-of-alice: alice@example.com`. A session writes only as its rater: the
  rater never comes from a request.
* Every write needs the session's CSRF token (form field `csrf` or header `X-CSRF-Token`), and a request
  whose Origin header names another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kilngit._io import ReadError, load_yaml
from kilngit.errors import UsageError
from kilngit.records import Annotation

MIN_TOKEN = 16


@dataclass
class Session:
    """One signed-in browser."""

    rater: str
    csrf: str
    undo: list[tuple[str, str, Annotation | None]] = field(default_factory=list)
    """(task, run, annotation before) of this person's label changes, newest last."""


class Access:
    """Login tokens -> rater identities, and the live sessions."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.sessions: dict[str, Session] = {}

    def login(self, token: str) -> str | None:
        """A new session ID for a valid login token, else None."""
        for known, rater in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                sid = secrets.token_urlsafe(32)
                self.sessions[sid] = Session(rater, secrets.token_urlsafe(32))
                return sid
        return None

    def session(self, sid: str | None) -> Session | None:
        return self.sessions.get(sid) if sid else None


def csrf_ok(session: Session, given: str | None) -> bool:
    """True when `given` is the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())


def load_raters(path: str | Path, project_root: Path) -> dict[str, str]:
    """Read a raters file (YAML mapping token -> rater identity); it must live outside the project."""
    path = Path(path).absolute()
    resolved = path.resolve()
    root = project_root.resolve()
    if resolved == root or root in resolved.parents:
        raise UsageError(
            f"the raters file {path} is inside the project",
            "keep it outside the repository (its tokens are secrets), e.g. ~/.config/kilngit/raters.yaml",
        )
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read the raters file {path}: {e.strerror}", "check the path") from None
    except ReadError as e:
        raise UsageError(f"{path}: {e}", e.fix) from None
    if not isinstance(data, dict) or not data:
        raise UsageError(
            f"{path}: expected a mapping of secret token to rater identity",
            "write lines like `a-long-random-token: alice@example.com`",
        )
    out = {}
    for token, rater in data.items():
        if not isinstance(token, str) or len(token) < MIN_TOKEN:
            raise UsageError(
                f"{path}: a token is shorter than {MIN_TOKEN} characters",
                "use long random tokens, e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe())'`",
            )
        if not isinstance(rater, str) or not rater.strip():
            raise UsageError(
                f"{path}: the token {token[:4]}... has no rater identity", "map it to e.g. an email"
            )
        out[token] = rater.strip()
    return out
