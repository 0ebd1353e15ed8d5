"""Keeping API keys out of everything kilngit writes or prints."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Key-like tokens as endpoints echo them back ("Incorrect API key provided: sk-proj-****abcd").
_KEY_LIKE = re.compile(r"\b(?:sk|tml|rk|pk|key|or|hf|gsk|xai)-[A-Za-z0-9_*.\-]{4,}|\bBearer\s+\S+", re.I)
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_URL_SECRET_PARAM = re.compile(r"(?<=[?&])((?:api[_-]?key|key|token|access_token|auth)=)[^&#\s]+", re.I)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with the given secrets, their visible tails, and anything that looks like an API key removed."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
            if len(secret) >= 12:
                text = text.replace(secret[-4:], "****")
    text = _URL_USERINFO.sub("<redacted>@", text)
    text = _URL_SECRET_PARAM.sub(r"\1<redacted>", text)
    return _KEY_LIKE.sub("<redacted>", text)
