"""The real tinker SDK driving kilngit's loopback fake Tinker service."""

from __future__ import annotations

import contextlib
import math
import time

import pytest

tinker = pytest.importorskip("tinker")
from tinker import types  # noqa: E402

from kilngit.testing.fake_tinker import (  # noqa: E402
    FAKE_API_KEY,
    ByteTokenizer,
    FakeTinkerServer,
    default_sampler,
    token_loss,
)

BASE_MODEL = "Qwen/Qwen3-8B"
LR = 1e-4
TOK = ByteTokenizer()
TEXTS = ["hello world", "kiln and git"]


def sft_datum(text: str) -> types.Datum:
    """Next-token cross-entropy on every token of ``text`` (no hub tokenizer needed)."""
    tokens = TOK.encode(text)
    n = len(tokens) - 1
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={
            "target_tokens": types.TensorData(data=tokens[1:], dtype="int64", shape=[n]),
            "weights": types.TensorData(data=[1.0] * n, dtype="float32", shape=[n]),
        },
    )


DATA = [sft_datum(t) for t in TEXTS]
WEIGHT = sum(len(TOK.encode(t)) - 1 for t in TEXTS)


def train_step(tc, lr: float = LR) -> float:
    fb = tc.forward_backward(DATA, loss_fn="cross_entropy")
    opt = tc.optim_step(types.AdamParams(learning_rate=lr))
    result = fb.result(timeout=10)
    opt.result(timeout=10)
    return result.metrics["loss:sum"]


@pytest.fixture
def server():
    with FakeTinkerServer() as srv:
        yield srv
    assert srv.errors == []  # requests the fake could not handle


@pytest.fixture
def service(server):
    sc = tinker.ServiceClient(base_url=server.base_url, api_key=FAKE_API_KEY)
    yield sc
    with contextlib.suppress(Exception):  # a test may have stopped the server
        sc.close("success").result(timeout=5)


def test_train_save_and_sample(server, service):
    tc = service.create_lora_training_client(base_model=BASE_MODEL, rank=8).result(timeout=10)
    assert tc.get_info().lora_rank == 8

    fb = tc.forward_backward(DATA, loss_fn="cross_entropy").result(timeout=10)
    assert fb.loss_fn_output_type == "ArrayRecord"
    assert fb.loss_fn_outputs[0]["logprobs"].shape == [len(TOK.encode(TEXTS[0])) - 1]
    tc.optim_step(types.AdamParams(learning_rate=LR)).result(timeout=10)
    losses = [fb.metrics["loss:sum"]] + [train_step(tc) for _ in range(2)]
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == 3
    for i, loss in enumerate(losses):
        assert loss == pytest.approx(token_loss(i * LR) * WEIGHT, rel=1e-6)
    assert server.state.model(tc.model_id).step == 3

    fb_body = server.requests_to("/api/v1/forward_backward")[0].body  # protobuf, decoded
    assert fb_body["loss_fn"] == "cross_entropy" and fb_body["seq_id"] == 1
    assert fb_body["data"][0]["model_input"] == TOK.encode(TEXTS[0])[:-1]

    state_path = tc.save_state("step-3").result(timeout=10).path
    assert state_path == f"tinker://{tc.model_id}/weights/step-3"
    sampler_path = tc.save_weights_for_sampler("sampler-3").result(timeout=10).path
    assert sampler_path == f"tinker://{tc.model_id}/sampler_weights/sampler-3"
    assert server.state.checkpoint(state_path).step == 3
    rest = tinker.RestClient(base_url=server.base_url, api_key=FAKE_API_KEY)
    listed = rest.list_checkpoints(tc.model_id).result(timeout=10).checkpoints
    assert {c.tinker_path for c in listed} == {state_path, sampler_path}

    sampler = service.create_sampling_client(model_path=sampler_path).result(timeout=10)
    prompt = types.ModelInput.from_ints(TOK.encode("Say hi"))
    res = sampler.sample(prompt=prompt, num_samples=2, sampling_params=types.SamplingParams(max_tokens=200))
    res = res.result(timeout=10)
    texts = [TOK.decode(s.tokens) for s in res.sequences]
    assert texts[0].startswith("fake completion from sampler-3 at step 3") and texts[0] != texts[1]
    assert all(s.stop_reason == "stop" and s.sequence_id for s in res.sequences)
    again = sampler.sample(prompt=prompt, num_samples=1, sampling_params=types.SamplingParams(max_tokens=5))
    again = again.result(timeout=10)
    assert TOK.decode(again.sequences[0].tokens) == texts[0][:5]
    assert again.sequences[0].stop_reason == "length"

    # The one-call path: an unnamed sampler snapshot.
    quick = tc.save_weights_and_get_sampling_client().result(timeout=10)
    out = quick.sample(prompt=prompt, num_samples=1, sampling_params=types.SamplingParams(max_tokens=200))
    assert "at step 3" in TOK.decode(out.result(timeout=10).sequences[0].tokens)


def test_resume_after_crash(server):
    sc1 = tinker.ServiceClient(base_url=server.base_url, api_key=FAKE_API_KEY)
    tc = sc1.create_lora_training_client(base_model=BASE_MODEL, rank=4).result(timeout=10)
    for _ in range(3):
        train_step(tc)
    path = tc.save_state("step-3").result(timeout=10).path
    train_step(tc)  # step 4 is never saved
    assert server.state.model(tc.model_id).step == 4

    server2 = server.restart(crash=True)  # same state object, same port; live models are lost
    try:
        assert server2.port == server.port and server2.state is server.state
        assert server2.state.models == {} and path in server2.state.checkpoints
        with pytest.raises(tinker.NotFoundError):
            tc.forward_backward(DATA, loss_fn="cross_entropy").result(timeout=10)

        sc2 = tinker.ServiceClient(base_url=server2.base_url, api_key=FAKE_API_KEY)
        tc2 = sc2.create_training_client_from_state_with_optimizer(path).result(timeout=10)
        model = server2.state.model(tc2.model_id)
        assert (model.step, model.optimizer_restored, model.loaded_from) == (3, True, path)
        assert train_step(tc2) == pytest.approx(token_loss(3 * LR) * WEIGHT, rel=1e-6)
        assert model.step == 4

        tc3 = sc2.create_training_client_from_state(path).result(timeout=10)
        assert server2.state.model(tc3.model_id).step == 3
        assert server2.state.model(tc3.model_id).optimizer_restored is False

        # The deprecated TrainingClient.load_state still works, onto an existing model.
        tc4 = sc2.create_lora_training_client(base_model=BASE_MODEL, rank=4).result(timeout=10)
        with pytest.warns(FutureWarning):
            load = tc4.load_state(path)
        assert load.result(timeout=10).path == path
        assert server2.state.model(tc4.model_id).step == 3
        with pytest.raises(tinker.RequestFailedError):
            sc2.create_training_client_from_state("tinker://nope:train:0/weights/x").result(timeout=10)
        sc2.close("success").result(timeout=5)
    finally:
        server2.stop()


def test_http_500_is_retried_by_the_sdk(server, service):
    tc = service.create_lora_training_client(base_model=BASE_MODEL, rank=8).result(timeout=10)
    server.inject_fault("forward_backward", status=500)
    server.inject_fault("retrieve_future", nth=2, status=503)
    server.inject_fault("optim_step", mode="drop")
    assert train_step(tc) == pytest.approx(token_loss(0.0) * WEIGHT)
    assert [r.status for r in server.requests_to("forward_backward")] == [500, 200]
    assert [r.status for r in server.requests_to("optim_step")] == [0, 200]
    assert 503 in [r.status for r in server.requests_to("retrieve_future")]
    assert server.state.model(tc.model_id).step == 1


def test_lost_response_is_not_applied_twice(server, service):
    tc = service.create_lora_training_client(base_model=BASE_MODEL, rank=8).result(timeout=10)
    server.inject_fault("optim_step", mode="drop_response")
    train_step(tc)
    sent = server.requests_to("optim_step")
    assert len(sent) == 2 and sent[0].body["seq_id"] == sent[1].body["seq_id"]
    assert server.state.model(tc.model_id).step == 1


def test_errors_surface(server, service):
    tc = service.create_lora_training_client(base_model=BASE_MODEL, rank=8).result(timeout=10)
    server.inject_fault("forward_backward", mode="future", message="worker died")
    with pytest.raises(tinker.RequestFailedError, match="worker died"):
        tc.forward_backward(DATA, loss_fn="cross_entropy").result(timeout=10)
    server.inject_fault("optim_step", status=400, message="bad optimizer params")
    with pytest.raises(tinker.BadRequestError, match="bad optimizer params"):
        tc.optim_step(types.AdamParams(learning_rate=LR)).result(timeout=10)
    assert server.state.model(tc.model_id).step == 0


def test_try_again_polling_and_auth():
    with FakeTinkerServer(try_again_polls=2, api_key="tml-right") as srv:
        sc = tinker.ServiceClient(base_url=srv.base_url, api_key="tml-right")
        tc = sc.create_lora_training_client(base_model=BASE_MODEL).result(timeout=10)
        train_step(tc)
        assert len(srv.requests_to("retrieve_future")) >= 3 * 3  # create_model, fwd/bwd, optim
        assert all(r.headers["x-api-key"] == "tml-right" for r in srv.requests_to("/api/v1/optim_step"))
        sc.close("success").result(timeout=5)
        with pytest.raises(tinker.AuthenticationError):
            tinker.ServiceClient(base_url=srv.base_url, api_key="tml-wrong").create_lora_training_client(
                base_model=BASE_MODEL
            )


def test_openai_compatible_endpoint(server, service):
    openai = pytest.importorskip("openai")
    tc = service.create_lora_training_client(base_model=BASE_MODEL, rank=8).result(timeout=10)
    train_step(tc)
    sampler_path = tc.save_weights_for_sampler("oai-1").result(timeout=10).path

    client = openai.OpenAI(base_url=server.openai_base_url, api_key=FAKE_API_KEY, max_retries=0)
    chat = client.chat.completions.create(
        model=sampler_path, messages=[{"role": "user", "content": "hi"}], max_tokens=300
    )
    assert chat.choices[0].message.content.startswith("fake completion from oai-1 at step 1")
    assert chat.usage.completion_tokens == len(TOK.encode(chat.choices[0].message.content))
    auth = server.requests_to("/oai/api/v1/chat/completions")[0].headers["authorization"]
    assert auth == f"Bearer {FAKE_API_KEY}"
    done = client.completions.create(model=sampler_path, prompt="abc", max_tokens=4)
    assert done.choices[0].text == "fake" and done.choices[0].finish_reason == "length"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="tinker://missing:train:0/sampler_weights/x", messages=[{"role": "user", "content": "x"}]
        )


def test_custom_sampler_and_loss_formula():
    def sampler(prompt, info, index, seed):
        return TOK.decode(prompt).upper()

    with FakeTinkerServer(sampler=sampler) as srv:
        sc = tinker.ServiceClient(base_url=srv.base_url, api_key=FAKE_API_KEY)
        samp = sc.create_sampling_client(base_model=BASE_MODEL).result(timeout=10)
        out = samp.sample(
            prompt=types.ModelInput.from_ints(TOK.encode("echo me")),
            num_samples=1,
            sampling_params=types.SamplingParams(max_tokens=50),
            include_prompt_logprobs=True,
        ).result(timeout=10)
        assert TOK.decode(out.sequences[0].tokens) == "ECHO ME"
        assert out.prompt_logprobs[0] is None and out.prompt_logprobs[1] == -1.0
        sc.close("success").result(timeout=5)
    assert token_loss(0.0) == pytest.approx(2.05)
    assert token_loss(3e-4) == pytest.approx(2.0 * math.exp(-0.3) + 0.05)
    assert "step 0" in default_sampler([1, 2], _info(), 0, 0)


def _info():
    from kilngit.testing.fake_tinker import SamplerInfo

    return SamplerInfo("s", BASE_MODEL, None, 0, 0.0)


def test_server_starts_and_stops_quickly():
    start = time.monotonic()
    for _ in range(3):
        with FakeTinkerServer() as srv:
            assert srv.base_url.startswith("http://127.0.0.1:")
    assert time.monotonic() - start < 30  # guards a hang on stop, not a speed figure
