"""Finding and scrubbing the secrets of kilngit's environment (the watcher and judge results use these; see
tests/sync/test_secrets.py for the real processes)."""

from __future__ import annotations

import json

from kilngit.leaks import leaked, scrub, secret_looking, secrets_of

KEY = "sk-test-LEAKsecret0123456789"


def test_secret_looking_names():
    assert all(
        map(secret_looking, ["OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD"])
    )
    assert not any(
        map(
            secret_looking,
            ["GIT_AUTHOR_NAME", "KILNGIT_PROVIDER_X_API_KEY_ENV", "SSH_AUTH_SOCK", "HOME", "XDG_SESSION_ID"],
        )
    )


def test_scrub_replaces_values_in_nested_data_keys_and_json_escapes():
    secrets = secrets_of(
        {"OPENAI_API_KEY": KEY, "DB_PASSWORD": 'pa"ss\\word', "SHORT_TOKEN": "1", "HOME": "/root"}
    )
    assert set(secrets) == {"OPENAI_API_KEY", "DB_PASSWORD"}
    data = {"explanation": f"the key is {KEY}!", "details": {KEY: [f"x{KEY}", 3]}, "n": 1.5}
    assert scrub(data, secrets) == {
        "explanation": "the key is <redacted $OPENAI_API_KEY>!",
        "details": {"<redacted $OPENAI_API_KEY>": ["x<redacted $OPENAI_API_KEY>", 3]},
        "n": 1.5,
    }
    assert leaked(json.dumps({"a": 'pa"ss\\word'}).encode(), secrets) == ["DB_PASSWORD"]
    assert leaked(b"nothing here /root", secrets) == []
