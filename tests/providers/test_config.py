"""Provider settings: built-ins, the user config file outside the project, environment overrides."""

from __future__ import annotations

import asyncio

import pytest

from kilngit.errors import ProviderError
from kilngit.providers import ChatRequest, get_provider
from kilngit.providers.config import config_path, known_providers, provider_settings
from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer


def test_builtin_defaults():
    assert provider_settings("ollama").base_url == "http://localhost:11434/v1"
    assert provider_settings("ollama").api_key_env is None
    openai = provider_settings("openai")
    assert (openai.base_url, openai.api_key_env, openai.type) == (
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        "openai_compat",
    )
    assert provider_settings("tinker").base_url.endswith("/oai/api/v1")
    assert not provider_settings("tinker").supports_json_schema


def test_user_config_and_env_override(tmp_path, monkeypatch):
    path = tmp_path / "providers.yaml"
    path.write_text(
        "providers:\n  my-vllm:\n    base_url: http://gpu:8000/v1\n    api_key_env: GPU_KEY\n"
        "    rpm: 120\n    supports_json_schema: false\n  openai:\n    rpm: 500\n"
    )
    monkeypatch.setenv("KILNGIT_CONFIG", str(path))
    assert config_path() == path
    mine = provider_settings("my-vllm")
    assert (mine.base_url, mine.api_key_env, mine.rpm, mine.supports_json_schema) == (
        "http://gpu:8000/v1",
        "GPU_KEY",
        120.0,
        False,
    )
    assert (
        provider_settings("openai").rpm == 500 and provider_settings("openai").api_key_env == "OPENAI_API_KEY"
    )
    monkeypatch.setenv("KILNGIT_PROVIDER_MY_VLLM_BASE_URL", "http://other:8000/v1")
    monkeypatch.setenv("KILNGIT_PROVIDER_MY_VLLM_TIMEOUT", "7")
    assert provider_settings("my-vllm").base_url == "http://other:8000/v1"
    assert provider_settings("my-vllm").timeout == 7.0
    assert "my-vllm" in known_providers()


def test_xdg_location(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "kilngit").mkdir()
    (tmp_path / "kilngit" / "providers.yaml").write_text("providers:\n  box:\n    base_url: http://box/v1\n")
    assert provider_settings("box").base_url == "http://box/v1"


def test_env_only_provider(monkeypatch):
    monkeypatch.setenv("KILNGIT_PROVIDER_LOCAL_BASE_URL", "http://127.0.0.1:9/v1")
    assert provider_settings("local").base_url == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    "text, message",
    [
        ("providers:\n  x:\n    api_key: sk-abc\n", "API keys are not read from config files"),
        ("providers:\n  x:\n    base_ulr: http://x\n", "unknown setting 'base_ulr'"),
        ("providers:\n  x:\n    rpm: lots\n", "invalid value 'lots' for rpm"),
        ("providers: [1]\n", "expected `providers:`"),
    ],
)
def test_bad_config_is_explained(tmp_path, monkeypatch, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    monkeypatch.setenv("KILNGIT_CONFIG", str(path))
    with pytest.raises(ProviderError, match=message.replace("[", r"\[")):
        provider_settings("x")


def test_unknown_provider():
    with pytest.raises(ProviderError, match="unknown provider 'nope'") as err:
        provider_settings("nope")
    assert "KILNGIT_PROVIDER_NOPE_BASE_URL" in err.value.hint


def test_tinker_openai_compatible_endpoint(monkeypatch):
    with FakeTinkerServer() as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        assert provider_settings("tinker").base_url == srv.openai_base_url

        async def go():
            provider = get_provider("tinker")
            try:
                return await provider.complete(
                    ChatRequest(
                        model="Qwen/Qwen3-8B", max_tokens=20, messages=({"role": "user", "content": "hi"},)
                    )
                )
            finally:
                await provider.aclose()

        answer = asyncio.run(go())
        assert answer.content and answer.output_tokens <= 20


def test_redact_keys_and_url_secrets():
    from kilngit.providers.secrets import redact

    text = redact(
        "key sk-proj-abcdefgh1234 at http://bob:pw@host:1/v1?api_key=zzz&x=1 Bearer tok123 mysecret99",
        ["mysecret99"],
    )
    assert "abcdefgh1234" not in text and "bob:pw" not in text and "zzz" not in text and "tok123" not in text
    assert "mysecret99" not in text and "x=1" in text and "host:1/v1" in text


def test_credentials_in_base_url_or_options_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "kilngit").mkdir()
    conf = tmp_path / "kilngit" / "providers.yaml"
    conf.write_text("providers:\n  box:\n    base_url: http://alice:s3cret@box/v1\n")
    with pytest.raises(ProviderError) as info:
        provider_settings("box")
    assert "user:pass@" in info.value.message and "s3cret" not in str(info.value)
    conf.write_text("providers:\n  box:\n    base_url: http://box/v1\n    options: {api_key: sk-123}\n")
    with pytest.raises(ProviderError) as info:
        provider_settings("box")
    assert "options.api_key" in info.value.message and "api_key_env" in info.value.hint
    monkeypatch.setenv("KILNGIT_PROVIDER_BOX_BASE_URL", "https://u:p@box/v1")
    with pytest.raises(ProviderError):
        provider_settings("box")
