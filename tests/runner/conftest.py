"""Fixtures for runner tests: a fake OpenAI server reachable as provider `fake`, and run config helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Prompt, RunConfig, Task
from kilngit.testing.fake_openai import FakeOpenAI

KEY = "sk-test-RUNNERsecret9931xyz"


def point_provider_at(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI, name: str = "FAKE") -> None:
    """Make provider `fake` an OpenAI-compatible endpoint on `server`, with fast retries."""
    for field, value in (
        ("BASE_URL", server.base_url),
        ("API_KEY_ENV", "FAKE_API_KEY"),
        ("BACKOFF_BASE", "0.01"),
        ("BACKOFF_MAX", "0.05"),
        ("MAX_RETRIES", "4"),
        ("TIMEOUT", "2"),
    ):
        monkeypatch.setenv(f"KILNGIT_PROVIDER_{name}_{field}", value)
    monkeypatch.setenv("FAKE_API_KEY", KEY)


@pytest.fixture
def srv(monkeypatch):
    with FakeOpenAI() as server:
        point_provider_at(monkeypatch, server)
        yield server


def add_config(project: Project, slug: str = "fake", prompt: str = "default", **fields) -> RunConfig:
    """Write a run config for task ffmpeg (provider `fake`, model gpt-4o-mini unless overridden)."""
    config = RunConfig(**{"provider": "fake", "model": "gpt-4o-mini", "prompt": prompt, **fields})
    project.write_definition(layout.run_config_file("ffmpeg", slug), config)
    return config


def add_prompt(project: Project, slug: str, **fields) -> Prompt:
    prompt = Prompt(**fields)
    project.write_definition(layout.prompt_file("ffmpeg", slug), prompt)
    return prompt


def set_output_schema(project: Project, schema: dict) -> None:
    task = project.task("ffmpeg")
    project.write_definition(
        layout.task_file("ffmpeg"), Task(**{**task.model_dump(), "output_schema": schema})
    )


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def inputs(n: int, prefix: str = "convert clip") -> list[str]:
    return [f"{prefix} {i} to mp4" for i in range(n)]
