"""Fixtures for provider tests: a fake OpenAI server and a provider pointed at it with fast retries."""

from __future__ import annotations

import pytest

from kilngit.providers.config import ProviderSettings
from kilngit.providers.openai_compat import OpenAICompatProvider
from kilngit.testing.fake_openai import FakeOpenAI

KEY = "sk-test-Zq9SECRETvalue0042"


@pytest.fixture
def srv():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def make_provider(srv, monkeypatch):
    """A factory of OpenAI-compatible providers talking to `srv` with quick backoff."""
    monkeypatch.setenv("FAKE_API_KEY", KEY)

    def make(**overrides) -> OpenAICompatProvider:
        values = dict(
            name="fake",
            base_url=srv.base_url,
            api_key_env="FAKE_API_KEY",
            backoff_base=0.01,
            backoff_max=0.05,
            timeout=2.0,
            max_retries=3,
        )
        values.update(overrides)
        return OpenAICompatProvider(ProviderSettings(**values))

    return make
