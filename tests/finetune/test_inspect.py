"""Inspect AI interop, offline: the eval set as an Inspect dataset, an Inspect task scoring a run config's
model through the loopback fake OpenAI server, and the fine-tune loop scored by an Inspect task."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

pytest.importorskip("inspect_ai")

from click.testing import CliRunner  # noqa: E402
from inspect_ai.dataset import json_dataset  # noqa: E402

from kilngit import layout  # noqa: E402
from kilngit.cli.main import cli  # noqa: E402
from kilngit.errors import UsageError  # noqa: E402
from kilngit.finetune.inspect_tasks import inspect_dataset, run_inspect  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.records import Annotation, Rating, RunConfig  # noqa: E402
from kilngit.testing.fake_openai import FakeOpenAI  # noqa: E402
from tests.finetune.helpers import TASK, add_eval, add_runs  # noqa: E402

TASK_FILE = textwrap.dedent("""
    from inspect_ai import Task, task
    from inspect_ai.dataset import json_dataset
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate


    @task
    def commands():
        return Task(dataset=json_dataset("samples.jsonl"), solver=generate(), scorer=includes())
""")


@pytest.fixture(autouse=True)
def inspect_dirs(tmp_path, monkeypatch):
    """Inspect keeps its own data (e.g. ~/.local/share/inspect_ai); keep it out of the home directory."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def rated(project: Project) -> Project:
    """Four eval inputs: one with a reference, one repaired, one rated pass, one rated fail (no target)."""
    runs = add_runs(project, 4, tag="eval_set", prefix="eval")
    add_eval(project)
    bob = "bob@example.com"
    project.write_record(
        Annotation(task=TASK, run=runs[0], rater=bob, reference="ffmpeg -i file0.mov out.mp4")
    )
    project.write_record(
        Annotation(task=TASK, run=runs[1], rater=bob, repaired_output="ffmpeg -i file1.mov a.mp4")
    )
    project.write_record(
        Annotation(task=TASK, run=runs[2], rater=bob, rating=Rating(type="pass_fail", value=1.0))
    )
    project.write_record(
        Annotation(task=TASK, run=runs[3], rater=bob, rating=Rating(type="pass_fail", value=0.0))
    )
    return Project(project.root)


def test_export_writes_inspect_samples(rated: Project, tmp_path):
    result = inspect_dataset(rated, TASK, "quality")
    assert (result.samples, result.without_target) == (3, 1)
    path = tmp_path / "samples.jsonl"
    path.write_bytes(result.data)
    samples = {s.input: s for s in json_dataset(str(path))}  # in eval-set (run ID) order
    assert {k: (s.target, s.metadata["target_source"]) for k, s in samples.items()} == {
        "eval file0.mov to mp4": ("ffmpeg -i file0.mov out.mp4", "reference"),
        "eval file1.mov to mp4": ("ffmpeg -i file1.mov a.mp4", "repaired_output"),
        "eval file2.mov to mp4": ("ffmpeg -i file2.mov file2.mp4", "consensus_rating"),
    }
    assert {s.metadata["eval"] for s in samples.values()} == {"quality"}


def test_export_cli(rated: Project, tmp_path):
    out = tmp_path / "d.jsonl"
    r = CliRunner().invoke(cli, ["-C", str(rated.root), "export", "inspect", "quality", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(out.read_text().splitlines()) == 3 and "3 samples (1 eval inputs" in r.output


def _answers(body: dict) -> str:
    item = int(re.findall(r"file(\d+)\.mov", json.dumps(body["messages"]))[-1])
    return {0: "ffmpeg -i file0.mov out.mp4", 1: "no idea"}.get(
        item, f"ffmpeg -i file{item}.mov file{item}.mp4"
    )


def test_inspect_task_scores_a_run_config(rated: Project, monkeypatch):
    (rated.root / "inspect").mkdir()
    (rated.root / "inspect" / "samples.jsonl").write_bytes(inspect_dataset(rated, TASK, "quality").data)
    (rated.root / "inspect" / "commands.py").write_text(TASK_FILE)
    rated.write_definition(
        layout.run_config_file(TASK, "mini"),
        RunConfig(provider="openai", model="gpt-4o-mini", prompt="default"),
    )
    with FakeOpenAI(responder=_answers) as fake:
        monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-inspect-test")
        score = run_inspect(rated, TASK, "inspect:inspect/commands.py", "mini")
        assert fake.counts["chat.completions"] == 3
    assert (score.scorer, score.items) == ("includes", 3)
    assert score.score == pytest.approx(2 / 3) and score.scores["accuracy"] == pytest.approx(2 / 3)


def test_unknown_inspect_task_is_a_clear_error(rated: Project):
    rated.write_definition(
        layout.run_config_file(TASK, "mini"),
        RunConfig(provider="openai", model="gpt-4o-mini", prompt="default"),
    )
    with pytest.raises(UsageError, match="Inspect could not run"):
        run_inspect(rated, TASK, "inspect:missing.py", "mini")


def test_loop_scores_rounds_with_an_inspect_task(project: Project, monkeypatch):
    """The loop's checkpoint answers the Inspect task through the fake Tinker's OpenAI-compatible route."""
    pytest.importorskip("tinker")
    from kilngit.finetune.loop import run_loop
    from kilngit.testing.fake_tinker import FAKE_API_KEY, FakeTinkerServer
    from tests.finetune.helpers import split_and_finetune
    from tests.finetune.test_loop import improving_sampler, settings

    split_and_finetune(
        project,
        "tinker",
        base_model="Qwen/Qwen3-8B",
        params={"tokenizer": "byte", "batch_size": 2, "lora_rank": 4},
    )
    (project.root / "inspect").mkdir()
    (project.root / "inspect" / "commands.py").write_text(TASK_FILE)
    (project.root / "inspect" / "samples.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "input": f"eval file{i}.mov to mp4", "target": f"ffmpeg -i file{i}.mov"})
            + "\n"
            for i in range(4)
        )
    )
    with FakeTinkerServer(sampler=improving_sampler) as srv:
        monkeypatch.setenv("TINKER_BASE_URL", srv.base_url)
        monkeypatch.setenv("TINKER_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("TINKER_TELEMETRY", "0")
        result = run_loop(project, TASK, "ft", settings(eval="inspect:inspect/commands.py"))
    assert [r.score for r in result.rounds] == [0.25, 0.5, 0.75] and result.best.round == 3
    rec = Project(project.root).finetune_rounds(TASK, "ft")[3]
    assert (rec.eval, rec.judge, rec.items, rec.reached_threshold) == (
        "inspect:inspect/commands.py",
        "includes",
        4,
        True,
    )
    assert rec.scores["accuracy"] == 0.75
    with pytest.raises(UsageError, match="--judge"):
        run_loop(project, TASK, "ft", settings(eval="inspect:inspect/commands.py", judge="contains"))


def test_export_of_a_classification_task(project: Project, tmp_path):
    """Label task: the target is the class people chose (their reference, else the consensus label)."""
    from kilngit.records import Eval, EvalScore
    from tests.tickets import TASK as TICKETS
    from tests.tickets import TICKETS as ROWS
    from tests.tickets import make_tickets

    runs = make_tickets(project)
    project.write_definition(
        layout.eval_file(TICKETS, "routing"),
        Eval(name="Routing", scores=[EvalScore(name="right_class", instruction="Right class.")]),
    )
    for run in (runs["sharp"][0], runs["sloppy"][0]):  # ticket 0: labels only, no reference
        for a in [a for a in project.annotations(TICKETS) if a.run == run.id]:
            project.write_record(a.model_copy(update={"reference": None}))
    result = inspect_dataset(Project(project.root), TICKETS, "routing")
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(result.data)
    samples = {s.input: s for s in json_dataset(str(path))}
    assert {k: s.target for k, s in samples.items()} == {text: truth for text, truth, _, _ in ROWS}
    assert samples[ROWS[0][0]].metadata["target_source"] == "consensus_label"
    assert samples[ROWS[1][0]].metadata["target_source"] == "reference"
