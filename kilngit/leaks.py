"""Values of kilngit's own secrets (API keys and tokens in its environment), kept out of every file it writes
or commits.

    clean = scrub(judge_output)            # before a judge result is written
    names = leaked(file_bytes)             # before the watcher commits a file: [] or the variables it holds

A variable is secret-looking by its name (`OPENAI_API_KEY`, `GITHUB_TOKEN`, `DB_PASSWORD`, `*_SECRET`...); only
values long enough to be a secret count (short ones like `1` would match everywhere). Values are looked for as
they are and as they appear inside a JSON string (escaped).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

#: Parts of a variable name (split at `_`) that make it secret-looking; `APIKEY` and such end in KEY.
SECRET_PARTS = {
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "COOKIE",
    "PAT",
}
#: Last parts that make it a setting *about* a secret (`KILNGIT_PROVIDER_X_API_KEY_ENV` names a variable).
NOT_SECRET_ENDS = {"ENV", "FILE", "PATH", "DIR", "SOCK", "URL"}
MIN_LENGTH = 8


def secret_looking(name: str) -> bool:
    parts = name.upper().split("_")
    return parts[-1] not in NOT_SECRET_ENDS and any(p in SECRET_PARTS or p.endswith("KEY") for p in parts)


def secrets_of(environ: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """variable name -> the forms of its value to look for, for every secret-looking variable set."""
    environ = os.environ if environ is None else environ
    found: dict[str, list[str]] = {}
    for name, value in environ.items():
        if secret_looking(name) and len(value.strip()) >= MIN_LENGTH:
            found[name] = list(dict.fromkeys([value, json.dumps(value)[1:-1]]))
    return found


def scrub(value: Any, secrets: dict[str, list[str]] | None = None) -> Any:
    """`value` (text, or JSON-like data, keys included) with every secret replaced by `<redacted $NAME>`."""
    secrets = secrets_of() if secrets is None else secrets
    if not secrets:
        return value
    if isinstance(value, str):
        for name, forms in sorted(secrets.items(), key=lambda item: -len(item[1][0])):
            for form in forms:
                value = value.replace(form, f"<redacted ${name}>")
        return value
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, secrets) for v in value)
    return value


def leaked(data: bytes, secrets: dict[str, list[str]] | None = None) -> list[str]:
    """Names of the secret variables whose value `data` holds."""
    secrets = secrets_of() if secrets is None else secrets
    return sorted(name for name, forms in secrets.items() if any(f.encode() in data for f in forms))
