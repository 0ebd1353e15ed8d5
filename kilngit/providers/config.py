"""Provider connection settings: built-in defaults, the user's config file, then environment variables.

Settings live outside the project so a repository never holds a URL with a token or a key:

* built-in defaults for the known providers (`BUILTIN`);
* the user config file: `$KILNGIT_CONFIG`, else `$XDG_CONFIG_HOME/kilngit/providers.yaml`, else
  `~/.config/kilngit/providers.yaml`, with a `providers:` mapping of name -> settings;
* environment variables `KILNGIT_PROVIDER_<NAME>_<FIELD>` (e.g. `KILNGIT_PROVIDER_OLLAMA_BASE_URL`), which win.

Only the *name* of the environment variable holding an API key is ever configured (`api_key_env`); the key
itself is read from the environment when a request is sent.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kilngit._io import ReadError, load_yaml
from kilngit.errors import ProviderError

TINKER_BASE = "https://tinker.thinkingmachines.dev/services/tinker-prod"


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach one provider and how patiently to treat it."""

    name: str
    type: str = "openai_compat"
    """Which provider implementation serves it (see `kilngit.providers.registry`)."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; None for local servers that need no key."""
    rpm: float | None = None
    """Requests-per-minute limit kilngit keeps to (None: no limit)."""
    max_retries: int = 6
    timeout: float = 120.0
    """Seconds to wait for one response."""
    supports_json_schema: bool = True
    """Whether the endpoint accepts response_format json_schema (else JSON instructions are used)."""
    backoff_base: float = 1.0
    """First retry waits about this many seconds; each further retry doubles it (with jitter)."""
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    """A Retry-After longer than this is not waited for: the request fails instead."""
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    """model -> {"input": $ per million tokens, "output": $ per million tokens}, to record costs."""
    options: dict[str, Any] = field(default_factory=dict)
    """Settings specific to a provider type (e.g. the mock provider's answers)."""


_LOCAL = {"api_key_env": None}
BUILTIN: dict[str, dict[str, Any]] = {
    "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "openrouter": {"base_url": "https://openrouter.ai/api/v1", "api_key_env": "OPENROUTER_API_KEY"},
    "ollama": {"base_url": "http://localhost:11434/v1", **_LOCAL},
    "vllm": {"base_url": "http://localhost:8000/v1", "api_key_env": "VLLM_API_KEY"},
    "llama_cpp": {"base_url": "http://localhost:8080/v1", **_LOCAL},
    "lmstudio": {"base_url": "http://localhost:1234/v1", **_LOCAL},
    "tinker": {
        "base_url": f"{TINKER_BASE}/oai/api/v1",
        "api_key_env": "TINKER_API_KEY",
        "supports_json_schema": False,
    },
    "fireworks": {"base_url": "https://api.fireworks.ai/inference/v1", "api_key_env": "FIREWORKS_API_KEY"},
    "together": {"base_url": "https://api.together.xyz/v1", "api_key_env": "TOGETHER_API_KEY"},
    "mock": {"type": "mock", "api_key_env": None},
}
"""Known providers. vllm's key is optional: an unset VLLM_API_KEY sends a placeholder."""

_FIELDS = {f.name: f for f in fields(ProviderSettings) if f.name != "name"}
_ENV_FIELDS = (
    "type",
    "base_url",
    "api_key_env",
    "rpm",
    "max_retries",
    "timeout",
    "supports_json_schema",
    "backoff_base",
    "backoff_max",
    "max_retry_after",
)


def config_path() -> Path:
    """Where the user's provider config is read from (it need not exist)."""
    explicit = os.environ.get("KILNGIT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kilngit" / "providers.yaml"


def env_prefix(name: str) -> str:
    """`KILNGIT_PROVIDER_<NAME>_`, the prefix of a provider's environment overrides."""
    return "KILNGIT_PROVIDER_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_"


def provider_settings(name: str, path: Path | None = None) -> ProviderSettings:
    """The settings of provider `name`: built-in defaults, overlaid by the user config, then the environment."""
    path = path or config_path()
    merged: dict[str, Any] = {}
    known = False
    if name in BUILTIN:
        merged.update(BUILTIN[name])
        known = True
    user = _user_config(path).get(name)
    if user is not None:
        merged.update(_checked(user, f"{path}: providers.{name}"))
        known = True
    env = _env_overrides(name)
    if env:
        merged.update(env)
        known = True
    if not known:
        raise ProviderError(
            f"unknown provider {name!r}",
            f"use one of {', '.join(sorted(BUILTIN))}, or define it in {path} (providers: {{{name}: {{base_url: "
            f"...}}}}) or with {env_prefix(name)}BASE_URL",
        )
    if name == "tinker" and os.environ.get("TINKER_BASE_URL") and "base_url" not in (user or {}) | env:
        merged["base_url"] = os.environ["TINKER_BASE_URL"].rstrip("/") + "/oai/api/v1"
    # The openai SDK's own variable (honoured by most tools, e.g. for a gateway); kilngit's settings win.
    if name == "openai" and os.environ.get("OPENAI_BASE_URL") and "base_url" not in (user or {}) | env:
        merged["base_url"] = os.environ["OPENAI_BASE_URL"].rstrip("/")
    return replace(ProviderSettings(name=name), **merged)


def known_providers(path: Path | None = None) -> list[str]:
    """Names of the built-in providers and those defined in the user config."""
    return sorted(set(BUILTIN) | set(_user_config(path or config_path())))


def _user_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (ReadError, UnicodeDecodeError, OSError) as e:
        raise ProviderError(
            f"cannot read provider config {path}: {e}", "fix the YAML or remove the file"
        ) from e
    providers = data.get("providers", {}) if isinstance(data, dict) else None
    if not isinstance(providers, dict) or not all(isinstance(v, dict) for v in providers.values()):
        raise ProviderError(
            f"{path}: expected `providers:` mapping provider names to settings",
            "see docs/providers.md for an example",
        )
    return providers


def _checked(values: dict[str, Any], where: str) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if key in ("api_key", "key", "token"):
            raise ProviderError(
                f"{where}: API keys are not read from config files",
                "put the key in an environment variable and name it: api_key_env: MY_KEY_VAR",
            )
        if key not in _FIELDS:
            raise ProviderError(f"{where}: unknown setting {key!r}", f"known settings: {', '.join(_FIELDS)}")
        out[key] = _coerce(key, value, where)
    return out


def _base_url(url: str, where: str) -> str:
    """A base URL without credentials in it (they would end up in logs and error messages)."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as e:
        raise ProviderError(f"{where}: invalid base_url {url!r} ({e})", "use e.g. https://host/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            f"{where}: base_url must be an http(s) URL with a host, not {url!r}",
            "use e.g. https://api.example.com/v1",
        )
    if parts.username is not None or parts.password is not None:
        raise ProviderError(
            f"{where}: base_url must not hold a user name or password (user:pass@)",
            "remove them from the URL; put the key in an environment variable and name it: "
            "api_key_env: MY_KEY_VAR",
        )
    return url


def _env_overrides(name: str) -> dict[str, Any]:
    prefix = env_prefix(name)
    out: dict[str, Any] = {}
    for key in _ENV_FIELDS:
        value = os.environ.get(prefix + key.upper())
        if value is not None:
            out[key] = _coerce(key, None if value == "" else value, f"${prefix}{key.upper()}")
    return out


_SECRET_WORDS = ("key", "token", "secret", "password")


def _coerce(key: str, value: Any, where: str) -> Any:
    if key == "base_url" and value is not None:
        return _base_url(str(value), where)
    if key == "options" and isinstance(value, dict):
        secret = sorted(k for k in value if any(w in str(k).lower() for w in _SECRET_WORDS))
        if secret:
            raise ProviderError(
                f"{where}: options.{secret[0]} looks like a secret, and secrets are not read from "
                "config files",
                "put it in an environment variable and name that variable: api_key_env: MY_KEY_VAR",
            )
    if value is None or key in ("prices", "options"):
        return value
    try:
        if key in ("rpm", "timeout", "backoff_base", "backoff_max", "max_retry_after"):
            number = float(value)
            if number < 0:
                raise ValueError
            return number
        if key == "max_retries":
            return int(value)
        if key == "supports_json_schema":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return str(value).lower() in ("1", "true", "yes", "on")
            raise ValueError
    except (TypeError, ValueError):
        raise ProviderError(
            f"{where}: invalid value {value!r} for {key}",
            "use a non-negative number" if key != "supports_json_schema" else "use true or false",
        ) from None
    return str(value)
