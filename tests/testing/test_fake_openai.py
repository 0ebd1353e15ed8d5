"""The fake OpenAI server, driven by the real ``openai`` SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import openai
import pytest

from kilngit.testing.fake_openai import FakeOpenAI, Fault, JobScript, Reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def srv():
    with FakeOpenAI() as server:
        yield server


def client(server: FakeOpenAI, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-secret", max_retries=0, **kw)


def ask(c: openai.OpenAI, **kw):
    return c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **kw)


# -- chat completions ------------------------------------------------------------------------------


def test_plain_answer_and_request_log(srv):
    r = ask(client(srv))
    assert r.object == "chat.completion" and r.model == "gpt-4o-mini"
    assert r.choices[0].message.content == "echo: What is 2+2?"
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.refusal is None
    assert r.choices[0].finish_reason == "stop" and r.choices[0].logprobs is None
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    (req,) = srv.requests
    assert (req.method, req.path, req.route) == ("POST", "/v1/chat/completions", "chat.completions")
    assert req.body["messages"] == MESSAGES
    assert req.headers["authorization"] == "<redacted>"
    assert "sk-secret" not in repr(srv.requests)
    assert srv.counts["chat.completions"] == 1 and srv.counts["faults"] == 0


def test_logprobs_in_openai_format():
    lp = [
        {
            "token": "Yes",
            "logprob": -0.01,
            "top_logprobs": [{"token": "Yes", "logprob": -0.01}, {"token": "No", "logprob": -4.6}],
        },
        {
            "token": ".",
            "logprob": -0.2,
            "top_logprobs": [{"token": ".", "logprob": -0.2}, {"token": "!", "logprob": -1.7}],
        },
    ]
    with FakeOpenAI(responder=lambda body: Reply("Yes.", logprobs=lp)) as server:
        c = client(server)
        r = ask(c, logprobs=True, top_logprobs=2)
        content = r.choices[0].logprobs.content
        assert [t.token for t in content] == ["Yes", "."]
        assert content[0].logprob == -0.01 and content[0].bytes == list(b"Yes")
        assert [(t.token, t.logprob) for t in content[0].top_logprobs] == [("Yes", -0.01), ("No", -4.6)]
        # Like the real API, top_logprobs is cut to the requested count, and absent unless asked.
        assert len(ask(c, logprobs=True, top_logprobs=1).choices[0].logprobs.content[1].top_logprobs) == 1
        assert ask(c).choices[0].logprobs is None
    # Synthesized from the content when the reply has none.
    with FakeOpenAI(responder=lambda body: "a b c") as server:
        content = ask(client(server), logprobs=True, top_logprobs=3).choices[0].logprobs.content
        assert "".join(t.token for t in content) == "a b c" and all(len(t.top_logprobs) == 3 for t in content)


def test_length_refusal_reasoning_usage_and_raw_dict():
    replies = iter(
        [
            Reply("cut o", finish_reason="length", prompt_tokens=7, completion_tokens=2),
            Reply(refusal="I can't help with that."),
            Reply("", finish_reason="content_filter"),
            Reply("4", reasoning_content="2+2 is 4"),
        ]
    )
    with FakeOpenAI(responder=lambda body: next(replies)) as server:
        c = client(server)
        r = ask(c)
        assert (r.choices[0].finish_reason, r.choices[0].message.content) == ("length", "cut o")
        assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (7, 2, 9)
        m = ask(c).choices[0].message
        assert m.content is None and m.refusal == "I can't help with that."
        assert ask(c).choices[0].finish_reason == "content_filter"
        r = ask(c)
        assert r.choices[0].message.content == "4" and r.choices[0].message.reasoning_content == "2+2 is 4"
        assert r.usage.completion_tokens_details.reasoning_tokens == 3
    raw = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    with FakeOpenAI(responder=lambda body: raw) as server:
        assert ask(client(server)).choices == []


def test_streaming(srv):
    srv.responder = lambda body: Reply("one two three", finish_reason="length")
    chunks = list(ask(client(srv), stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "one two three"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3


def test_async_client_and_models(srv):
    async def go():
        async with openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c:
            r = await c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            models = await c.models.list()
            return r, [m.id for m in models.data]

    r, ids = asyncio.run(go())
    assert r.model == "gpt-4o" and r.choices[0].message.content == "echo: What is 2+2?"
    assert ids == srv.models and "gpt-4o-mini" in ids


def test_bad_requests_are_openai_errors(srv):
    c = client(srv)
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("no-such-model")
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="gpt-4o-mini", messages=[])
    srv.responder = lambda body: 1 / 0
    with pytest.raises(openai.InternalServerError, match="ZeroDivisionError"):
        ask(c)


# -- faults ----------------------------------------------------------------------------------------


def test_rate_limit_with_retry_after(srv):
    srv.inject(Fault.rate_limit(retry_after=2))
    with pytest.raises(openai.RateLimitError) as info:
        ask(client(srv))
    assert info.value.status_code == 429 and info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "2"
    assert srv.counts["faults.http_error"] == 1
    assert ask(client(srv)).choices[0].message.content  # the plan is used up


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(srv, status):
    srv.inject(Fault.server_error(status))
    with pytest.raises(openai.InternalServerError) as info:
        ask(client(srv))
    assert info.value.status_code == status


@pytest.mark.parametrize("fault", [Fault.drop(), Fault.drop_mid_body()], ids=["drop", "drop_mid_body"])
@pytest.mark.parametrize("stream", [False, True])
def test_dropped_connections(srv, fault, stream):
    c = client(srv)
    ask(c)  # so the failing request reuses a keep-alive connection
    srv.inject(fault)
    with pytest.raises(openai.APIConnectionError):
        r = ask(c, stream=stream)
        if stream:
            list(r)
    assert ask(c).choices[0].message.content  # the client reconnects fine


def test_malformed_json_and_empty_content(srv):
    c = client(srv)
    srv.inject(Fault.malformed_json(), Fault.empty_content())
    with pytest.raises(json.JSONDecodeError):
        ask(c)
    r = ask(c)
    assert r.choices[0].message.content == "" and r.choices[0].finish_reason == "stop"


def test_slow_response_times_out_then_recovers(srv):
    srv.inject(Fault.slow(2.0))
    with pytest.raises(openai.APITimeoutError):
        ask(client(srv, timeout=0.2))
    assert ask(client(srv, timeout=5)).choices[0].message.content


def test_plan_entries_in_order_and_sdk_retries():
    server = FakeOpenAI(
        faults=[None, Fault.rate_limit(retry_after=0.01), Fault.http_error(503, retry_after=0.01)]
    )
    with server:
        assert ask(client(server)).choices[0].message.content
        # The SDK's own retry loop honours Retry-After and gets through on the third attempt.
        retrying = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=2)
        assert ask(retrying).choices[0].message.content
        assert server.counts["chat.completions"] == 4 and server.counts["faults"] == 2
        assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "0", "1", "2"]
        assert server.pending_faults == 0


def test_fault_fn_by_index_and_body():
    def faults(index, body):
        if body["messages"][-1]["content"] == "boom":
            return Fault.server_error(500)
        return Fault.rate_limit(None) if index % 2 else None

    with FakeOpenAI(fault_fn=faults) as server:
        c = client(server)
        ask(c)
        with pytest.raises(openai.RateLimitError) as info:
            ask(c)
        assert "retry-after" not in info.value.response.headers
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": "boom"}])
        c.models.list()  # outside fault_paths: neither faulted nor counted in the index
        with pytest.raises(openai.RateLimitError):
            ask(c)
        assert [r.fault is not None for r in server.requests] == [False, True, True, False, True]


def test_concurrent_async_requests_with_latency():
    # Each answer waits until 16 requests are in flight at once: that shows concurrency without measuring
    # wall time (a busy machine is slow, not serial). The limit only guards a hang.
    def responder(body):
        deadline = time.monotonic() + 120
        while server.peak_in_flight < 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        return "echo"

    with FakeOpenAI(responder=responder) as server:

        async def go():
            async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as c:
                return await asyncio.gather(
                    *(c.chat.completions.create(model="m", messages=MESSAGES) for _ in range(64))
                )

        rs = asyncio.run(go())
        assert len(rs) == 64 and all(r.choices[0].message.content for r in rs)
        assert server.peak_in_flight >= 16


def test_stop_is_prompt_with_idle_and_busy_connections():
    server = FakeOpenAI(latency=120.0).start()
    idle = socket.create_connection(("127.0.0.1", server.port))  # open, never sends a request
    busy = socket.create_connection(("127.0.0.1", server.port))
    busy.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    time.sleep(0.1)
    start = time.perf_counter()
    server.stop()
    assert time.perf_counter() - start < 100  # a hang guard: did not wait out the 120 s answer
    idle.close()
    busy.close()


# -- files and fine-tuning -------------------------------------------------------------------------

TRAINING = (
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\r\n\x00\xff'
)


def test_fine_tuning_flow_to_success(srv):
    c = client(srv)
    f = c.files.create(file=("train.jsonl", TRAINING), purpose="fine-tune")
    assert (f.object, f.bytes, f.filename, f.purpose) == ("file", len(TRAINING), "train.jsonl", "fine-tune")
    assert srv.fine_tuning.files[f.id].data == TRAINING and srv.fine_tuning.upload_count == 1
    assert c.files.content(f.id).content == TRAINING

    job = c.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=f.id, suffix="kiln", hyperparameters={"n_epochs": 2}
    )
    assert job.status == "validating_files" and job.hyperparameters.n_epochs == 2
    statuses = [c.fine_tuning.jobs.retrieve(job.id).status for _ in range(4)]
    assert statuses == ["queued", "running", "succeeded", "succeeded"]
    done = c.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model == f"ft:gpt-4o-mini:fake-org:kiln:{job.id[-6:]}"
    assert done.trained_tokens == 12345 and done.finished_at and done.error is None

    events = list(c.fine_tuning.jobs.list_events(job.id))  # newest first, like the API
    metrics = [e.data for e in reversed(events) if e.type == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 3] and metrics[-1]["train_loss"] == 0.5
    assert events[0].message == "The job has successfully completed"
    ckpts = c.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [k.step_number for k in ckpts] == [3, 2, 1] and ckpts[0].metrics.train_loss == 0.5
    assert b"train_loss" in c.files.content(done.result_files[0]).content
    assert done.fine_tuned_model in [m.id for m in c.models.list().data]
    assert [j.id for j in c.fine_tuning.jobs.list()] == [job.id]


def test_fine_tuning_scripts_failure_and_cancel(srv):
    c = client(srv)
    f = c.files.create(file=("train.jsonl", b"{}\n"), purpose="fine-tune")
    srv.script_next_job(
        JobScript.failing("invalid_file_format", "Line 1 has no messages."),
        JobScript(
            statuses=["queued", "running", "running", "succeeded"],
            fine_tuned_model="ft:custom",
            metrics=[{"step": s, "train_loss": 1 / s} for s in range(1, 5)],
            checkpoints=1,
        ),
    )
    failing = c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)
    failed = c.fine_tuning.jobs.retrieve(failing.id)
    assert failed.status == "failed" and failed.error.code == "invalid_file_format"
    assert failed.error.message == "Line 1 has no messages."

    job = c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)
    assert job.status == "queued" and c.fine_tuning.jobs.retrieve(job.id).status == "running"
    # Metrics are spread over the two scripted "running" polls.
    assert sum(e.type == "metrics" for e in c.fine_tuning.jobs.list_events(job.id)) == 2
    assert c.fine_tuning.jobs.retrieve(job.id).status == "running"
    assert c.fine_tuning.jobs.retrieve(job.id).fine_tuned_model == "ft:custom"
    assert len(c.fine_tuning.jobs.checkpoints.list(job.id).data) == 1

    third = c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id)  # default script
    assert c.fine_tuning.jobs.cancel(third.id).status == "cancelled"
    assert c.fine_tuning.jobs.retrieve(third.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.cancel(third.id)

    page = c.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in page.data] == [third.id, job.id] and page.has_more
    assert [j.id for j in c.fine_tuning.jobs.list(limit=2, after=job.id).data] == [failing.id]


def test_fine_tuning_rejects_unknown_files_and_jobs(srv):
    c = client(srv)
    with pytest.raises(openai.BadRequestError) as info:
        c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert info.value.code == "invalid_training_file"
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("ftjob-nope")
