"""Record/replay: record against a live loopback server, replay with no server and no key."""

from __future__ import annotations

import json

import pytest

from kilngit.errors import UsageError
from kilngit.providers import ChatRequest, ChatResponse, RequestFailed, get_provider
from kilngit.providers.cache import CachingProvider, cache_key, cache_settings
from kilngit.providers.mock import ScriptedProvider
from kilngit.records import ProjectManifest
from kilngit.records.project import Recordings
from kilngit.testing.fake_openai import FakeOpenAI, Reply
from tests.providers.conftest import KEY
from tests.providers.helpers import complete as complete_one

REQ = ChatRequest(
    model="gpt-4o-mini",
    temperature=0.2,
    messages=(
        {"role": "system", "content": "Answer with one ffmpeg command."},
        {"role": "user", "content": "turn clip.mov into an mp4 file please"},
    ),
)


def complete(provider, request=REQ):
    return complete_one(provider, request)


@pytest.fixture
def fake_env(monkeypatch):
    def point_at(server: FakeOpenAI) -> None:
        monkeypatch.setenv("KILNGIT_PROVIDER_FAKE_BASE_URL", server.base_url)
        monkeypatch.setenv("KILNGIT_PROVIDER_FAKE_API_KEY_ENV", "FAKE_API_KEY")
        monkeypatch.setenv("KILNGIT_PROVIDER_FAKE_BACKOFF_BASE", "0.01")
        monkeypatch.setenv("FAKE_API_KEY", KEY)

    return point_at


def test_record_then_replay_without_server_or_key(project, fake_env, monkeypatch):
    with FakeOpenAI(
        responder=lambda body: Reply("ffmpeg -i clip.mov clip.mp4", reasoning_content="mp4 wanted")
    ) as srv:
        fake_env(srv)
        url = srv.base_url
        first = complete(get_provider("fake", project, cache="record"))
        again = complete(get_provider("fake", project, cache="record"))  # a hit: no second request
        assert srv.counts["chat.completions"] == 1
    assert not first.cached and again.cached and again.content == first.content
    monkeypatch.delenv("FAKE_API_KEY")
    monkeypatch.delenv("KILNGIT_PROVIDER_FAKE_BASE_URL")  # replay needs neither the endpoint nor the key
    replayed = complete(get_provider("fake", project, cache="replay"))
    assert replayed.cached and replayed.content == "ffmpeg -i clip.mov clip.mp4"
    assert replayed.reasoning == "mp4 wanted" and replayed.input_tokens == first.input_tokens
    files = list((project.root / "recordings").rglob("*.json"))
    assert [f.name for f in files] == [f"{cache_key('fake', REQ)}.json"]
    entry = json.loads(files[0].read_text())
    assert entry["request"]["model"] == "gpt-4o-mini" and entry["request"]["temperature"] == 0.2
    assert files[0].read_bytes().endswith(b"}\n") and "cached" not in entry["response"]
    for path in project.root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert url.encode() not in files[0].read_bytes()


def test_replay_miss_names_the_request(project):
    with pytest.raises(RequestFailed) as err:
        complete(get_provider("openai", project, cache="replay"))
    text = str(err.value)
    assert err.value.reason == "replay_miss" and err.value.fatal
    assert "openai model gpt-4o-mini" in text and "turn clip.mov into an mp4 file please" in text
    assert cache_key("openai", REQ) in text and "--cache record" in text


def test_key_covers_every_parameter_and_message():
    base = cache_key("p", REQ)
    variants = [
        ChatRequest(model="gpt-4o", messages=REQ.messages, temperature=0.2),
        ChatRequest(model="gpt-4o-mini", messages=REQ.messages, temperature=0.3),
        ChatRequest(model="gpt-4o-mini", messages=REQ.messages, temperature=0.2, seed=1),
        ChatRequest(model="gpt-4o-mini", messages=REQ.messages, temperature=0.2, max_tokens=5),
        ChatRequest(
            model="gpt-4o-mini",
            messages=REQ.messages,
            temperature=0.2,
            response_format={"type": "json_object"},
        ),
        ChatRequest(model="gpt-4o-mini", messages=REQ.messages[1:], temperature=0.2),
    ]
    keys = {cache_key("p", v) for v in variants} | {cache_key("q", REQ)}
    assert base not in keys and len(keys) == len(variants) + 1
    assert cache_key("p", ChatRequest(model=REQ.model, messages=REQ.messages, temperature=0.2)) == base


def test_scripted_answers_round_trip_through_cache(tmp_path):
    answer = ChatResponse(content=None, finish_reason="stop", refusal="no", input_tokens=3, output_tokens=1)
    inner = ScriptedProvider(lambda req: answer)
    recorder = CachingProvider(inner, tmp_path, "record")
    assert complete(recorder) == answer
    replayed = complete(CachingProvider(ScriptedProvider({}), tmp_path, "replay"))
    assert replayed.refusal == "no" and replayed.cached and replayed.content is None


def test_mode_resolution(project, monkeypatch):
    assert cache_settings(project).mode == "off"
    monkeypatch.setenv("KILNGIT_CACHE", "replay")
    assert cache_settings(project).mode == "replay" and cache_settings(project, "record").mode == "record"
    monkeypatch.delenv("KILNGIT_CACHE")
    project.write_definition(
        "kilngit.yaml", ProjectManifest(name="demo", recordings=Recordings(mode="replay", path="rec"))
    )
    project.__dict__.pop("manifest", None)
    settings = cache_settings(project)
    assert settings.mode == "replay" and settings.folder == project.root / "rec"
    with pytest.raises(UsageError):
        cache_settings(project, "sometimes")
