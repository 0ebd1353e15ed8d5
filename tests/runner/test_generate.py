"""Synthetic inputs from a topic tree, with provenance and duplicate detection."""

from __future__ import annotations

import json

from kilngit.authoring import add_run
from kilngit.providers.mock import ScriptedProvider, last_user_text
from kilngit.runner.generate import generate_inputs
from kilngit.testing.fake_openai import Fault
from tests.runner.conftest import add_config

PER_TOPIC = {
    "video": ["convert a.mov to mp4", "Convert  A.MOV to mp4", "scale clip.mp4 to 720p"],
    "audio": ["extract the audio of talk.mp4 as mp3", "convert a.mov to mp4"],
}


def responder(body):
    ask = body["messages"][-1]["content"]
    if "subtopics" in ask:
        return json.dumps({"items": ["video", "audio"]})
    topic = ask.split("about the topic: ")[1].split(".")[0]
    return json.dumps({"items": PER_TOPIC[topic.split(" > ")[-1]]})


def test_topic_tree_provenance_and_duplicates(project, srv):
    add_config(project, temperature=1.0)
    add_run(project, "ffmpeg", "scale clip.mp4   to 720p")  # already in the task, typed by a person
    srv.responder = responder
    summary = generate_inputs(project, "ffmpeg", "fake", subtopics=2, n=3, tags=["synthetic"], progress=False)
    assert summary.topics == [["video"], ["audio"]]
    created = {r.input: r for r in summary.created}
    assert set(created) == {"convert a.mov to mp4", "extract the audio of talk.mp4 as mp3"}
    assert sorted(summary.duplicates) == [
        "Convert  A.MOV to mp4",
        "convert a.mov to mp4",
        "scale clip.mp4 to 720p",
    ]
    run = created["extract the audio of talk.mp4 as mp3"]
    assert run.input_only and run.tags == ["synthetic"]
    src = run.input_source
    assert (src.type, src.provider, src.model, src.run_config, src.topic) == (
        "synthetic",
        "fake",
        "gpt-4o-mini",
        "fake",
        ["audio"],
    )
    assert srv.requests[0].body["response_format"]["type"] == "json_schema"
    assert project.select("ffmpeg", "input_only & tag::synthetic")[0].run.input_only
    again = generate_inputs(project, "ffmpeg", "fake", topics=["video"], n=3, progress=False)
    assert not again.created and len(again.duplicates) == 3


def test_failures_are_reported(project, srv):
    add_config(project)
    srv.responder = lambda body: "not json at all"
    srv.fault_fn = lambda i, body: Fault.server_error(503) if "topic: a." in str(body["messages"]) else None
    summary = generate_inputs(project, "ffmpeg", "fake", topics=["a", "b"], n=2, progress=False)
    assert summary.failures == {"server_error": 1, "malformed": 1} and not summary.created


def test_structured_inputs_are_checked(project):
    from kilngit import layout
    from kilngit.records import Task

    task = project.task("ffmpeg")
    schema = {"type": "object", "properties": {"file": {"type": "string"}}, "required": ["file"]}
    project.write_definition(
        layout.task_file("ffmpeg"), Task(**{**task.model_dump(), "input_schema": schema})
    )
    add_config(project, provider="mock")
    provider = ScriptedProvider(
        lambda req: (
            json.dumps({"items": [{"file": "a.mov"}, {"name": "b"}]})
            if "Write" in last_user_text(req)
            else "{}"
        )
    )
    summary = generate_inputs(project, "ffmpeg", "fake", n=2, provider=provider, progress=False)
    assert [r.input for r in summary.created] == ['{"file": "a.mov"}'] and summary.failures == {
        "invalid_output": 1
    }
