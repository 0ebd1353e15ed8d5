"""The Batch API client against the fake server: lookups page through every batch and file (`after`,
`has_more`), and cancel moves a batch to cancelling, then cancelled."""

from __future__ import annotations

import pytest

from kilngit.providers import batch_client
from kilngit.providers.batch_client import META_KEY, BatchAPI
from kilngit.providers.config import ProviderSettings
from tests.providers.conftest import KEY


@pytest.fixture
def api(srv, monkeypatch) -> BatchAPI:
    monkeypatch.setenv("FAKE_API_KEY", KEY)
    return BatchAPI(ProviderSettings(name="fake", base_url=srv.base_url, api_key_env="FAKE_API_KEY"))


def line(n: int) -> bytes:
    return b'{"custom_id": "k%d", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n' % n


def test_find_batch_pages_past_the_100_newest(srv, api):
    first = api.upload("kilngit-batch-first.jsonl", line(0))
    oldest = api.create(first, "the-oldest-token")
    file_id = api.upload("other.jsonl", line(1))
    for n in range(149):  # cheaply: straight into the fake's state, not over HTTP
        srv.batch.create(
            {
                "input_file_id": file_id,
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "metadata": {META_KEY: f"other-{n}"},
            }
        )
    srv.reset_stats()
    found = api.find_batch("the-oldest-token")
    assert found is not None and found["id"] == oldest["id"]
    assert srv.counts["batches.list"] == 2  # 100 + 50
    assert api.find_batch("never-made") is None


def test_find_file_pages_through_every_file(srv, api, monkeypatch):
    monkeypatch.setattr(batch_client, "FILE_PAGE", 3)  # the API's page is 10,000 files: the same code path
    wanted = api.upload("kilngit-batch-wanted.jsonl", line(0))
    for n in range(7):
        api.upload(f"other-{n}.jsonl", line(n))
    srv.reset_stats()
    assert api.find_file("kilngit-batch-wanted.jsonl") == wanted
    assert srv.counts["files.list"] == 3
    assert api.find_file("missing.jsonl") is None


def test_cancel_moves_a_batch_to_cancelling_then_cancelled(api):
    batch = api.create(api.upload("b.jsonl", line(0)), "t")
    assert api.cancel(batch["id"])["status"] == "cancelling"
    assert api.get(batch["id"])["status"] == "cancelled"
