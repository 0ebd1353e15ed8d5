"""The OpenAI-compatible provider on the real `openai` SDK against a loopback server with injected faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from kilngit.providers.base import ChatRequest, RequestFailed
from kilngit.testing.fake_openai import Fault, Reply
from tests.providers.conftest import KEY
from tests.providers.helpers import complete

REQ = ChatRequest(
    model="gpt-4o-mini",
    messages=(
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "convert a.mov to mp4"},
    ),
)


def ask(provider, request: ChatRequest = REQ):
    return complete(provider, request)


def test_success_with_usage_and_parameters(srv, make_provider):
    req = ChatRequest(model="gpt-4o-mini", messages=REQ.messages, temperature=0.0, max_tokens=50, seed=3)
    answer = ask(make_provider(prices={"gpt-4o-mini": {"input": 1.0, "output": 2.0}}), req)
    assert answer.content == "echo: convert a.mov to mp4" and answer.finish_reason == "stop"
    assert answer.input_tokens > 0 and answer.output_tokens == 5 and answer.latency_ms > 0
    assert answer.cost == pytest.approx((answer.input_tokens + 2 * answer.output_tokens) / 1e6)
    body = srv.requests[0].body
    assert body["temperature"] == 0.0 and body["max_tokens"] == 50 and body["seed"] == 3
    assert "top_p" not in body and "logprobs" not in body


def test_rate_limit_honours_retry_after(srv, make_provider):
    srv.inject(Fault.rate_limit(retry_after=0.4))
    start = time.monotonic()
    assert ask(make_provider()).content.startswith("echo:")
    assert time.monotonic() - start >= 0.4
    assert srv.counts["chat.completions"] == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.drop(),
        Fault.drop_mid_body(),
        Fault.malformed_json(),
    ],
    ids=lambda f: f"{f.kind}{f.status}",
)
def test_transient_faults_are_retried(srv, make_provider, fault):
    srv.inject(fault)
    assert ask(make_provider()).content == "echo: convert a.mov to mp4"
    assert srv.counts["chat.completions"] == 2


def test_slow_response_times_out_then_succeeds(srv, make_provider):
    # The retry must answer within the timeout, so the timeout is the one every test here allows (2 s: a
    # busy machine answers slowly); the slow answer never comes first (the server's stop wakes it).
    srv.inject(Fault.slow(60))
    assert ask(make_provider()).content.startswith("echo:")
    assert srv.counts["chat.completions"] == 2


def test_persistent_failure_names_the_reason(srv, make_provider):
    srv.inject(*[Fault.server_error(503)] * 4)
    with pytest.raises(RequestFailed) as err:
        ask(make_provider(max_retries=3))
    assert err.value.reason == "server_error" and err.value.transient and err.value.attempts == 4
    assert "HTTP 503" in str(err.value) and "after 4 attempts" in str(err.value)
    srv.inject(*[Fault.malformed_json()] * 4)
    with pytest.raises(RequestFailed) as err:
        ask(make_provider(max_retries=3))
    assert err.value.reason == "malformed_response"


def test_retry_after_over_the_limit_fails_at_once(srv, make_provider):
    srv.inject(Fault.rate_limit(retry_after=600))
    with pytest.raises(RequestFailed) as err:
        ask(make_provider(max_retry_after=5))
    assert err.value.reason == "rate_limit" and "600s" in str(err.value)
    assert srv.counts["chat.completions"] == 1


def test_auth_error_is_fatal_not_retried_and_key_is_redacted(srv, make_provider):
    srv.inject(
        Fault.http_error(401, message=f"Incorrect API key provided: {KEY[:7]}****{KEY[-4:]}. Also {KEY}")
    )
    with pytest.raises(RequestFailed) as err:
        ask(make_provider())
    assert err.value.reason == "auth" and err.value.fatal and srv.counts["chat.completions"] == 1
    text = str(err.value)
    assert KEY not in text and KEY[-4:] not in text and "HTTP 401" in text


def test_missing_key_is_a_config_error(srv, make_provider, monkeypatch):
    monkeypatch.delenv("FAKE_API_KEY")
    with pytest.raises(RequestFailed) as err:
        ask(make_provider())
    assert err.value.reason == "config" and "$FAKE_API_KEY" in str(err.value)
    assert srv.counts["requests"] == 0


def test_answer_kinds(srv, make_provider):
    lp = [
        {
            "token": "ok",
            "logprob": -0.1,
            "top_logprobs": [{"token": "ok", "logprob": -0.1}, {"token": "no", "logprob": -3.0}],
        }
    ]
    replies = iter(
        [
            Reply("cut o", finish_reason="length"),
            Reply(refusal="I can't help with that."),
            Reply("4", reasoning_content="2+2 is 4"),
            Reply("ok", logprobs=lp),
        ]
    )
    srv.responder = lambda body: next(replies)
    provider = make_provider()
    assert ask(provider).finish_reason == "length"
    refused = ask(provider)
    assert refused.refusal == "I can't help with that." and refused.content is None
    assert ask(provider).reasoning == "2+2 is 4"
    answer = ask(provider, ChatRequest(model="m", messages=REQ.messages, logprobs=True, top_logprobs=2))
    assert answer.logprobs[0].token == "ok" and answer.logprobs[0].top == (("ok", -0.1), ("no", -3.0))


def test_rpm_limit_spaces_requests(srv, make_provider):
    provider = make_provider(rpm=600)  # one request every 0.1 s

    async def go():
        try:
            await asyncio.gather(*(provider.complete(REQ) for _ in range(5)))
        finally:
            await provider.aclose()

    start = time.monotonic()
    asyncio.run(go())
    # A lower bound only: a busy machine makes it longer, never shorter. (Gaps between arrivals at the server
    # are not checked: a server thread scheduled late sees spaced requests arrive together.)
    assert time.monotonic() - start >= 0.4
    assert len(srv.requests) == 5


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "cut_then_whole"])
def test_gzip_in_chunks_as_cdns_send_it(srv, make_provider, cut):
    srv.wire = "gzip_chunked"
    if cut:
        srv.inject(Fault.drop_mid_body())
    assert ask(make_provider()).content == "echo: convert a.mov to mp4"
    assert "gzip" in srv.requests[0].headers.get("accept-encoding", "")
    assert srv.counts["chat.completions"] == 1 + cut
