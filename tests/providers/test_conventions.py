"""Ecosystem conventions of the openai provider: OPENAI_BASE_URL / OPENAI_API_KEY (kilngit's own variables
win), and a refused connection reported as a connection failure, not as a timeout."""

from __future__ import annotations

import socket

import pytest

from kilngit.providers import get_provider
from kilngit.providers.base import RequestFailed
from kilngit.providers.config import provider_settings
from kilngit.testing.fake_openai import FakeOpenAI
from tests.providers.conftest import KEY
from tests.providers.helpers import complete
from tests.providers.test_openai_compat import REQ


def test_openai_base_url_and_key_from_the_sdk_variables(project, monkeypatch):
    with FakeOpenAI() as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        assert provider_settings("openai").base_url == srv.base_url
        answer = complete(get_provider("openai", project), REQ)
        assert answer.content.startswith("echo:") and "authorization" in srv.requests[0].headers
        monkeypatch.delenv("OPENAI_API_KEY")
        with pytest.raises(RequestFailed, match=r"\$OPENAI_API_KEY"):
            complete(get_provider("openai", project), REQ)
        monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        assert provider_settings("openai").base_url == "http://127.0.0.1:9/v1"  # kilngit's own variable wins
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("KILNGIT_PROVIDER_OPENAI_BASE_URL")
    assert provider_settings("openai").base_url == "https://api.openai.com/v1"


def test_refused_connection_is_not_a_timeout(make_provider):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = make_provider(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(RequestFailed) as err:
        complete(provider, REQ)
    assert err.value.reason == "connection" and "timeout" not in str(err.value)
    assert f"cannot connect to http://127.0.0.1:{port}/v1" in str(err.value)
