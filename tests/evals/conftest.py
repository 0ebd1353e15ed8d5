"""Fixtures for eval tests: a project with runs from two run configs, two raters, an eval, and judges of every
kind; a loopback chat-completions server reachable as provider `fake` whose verdicts tests script."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Annotation, Eval, Judge, Rating, Source, TaskRun, Usage
from kilngit.testing.fake_openai import FakeOpenAI, Reply
from tests.runner.conftest import point_provider_at

TASK = "ffmpeg"
HUMAN = Source(type="human", created_by="author@example.com")

#: (input, good output, bad output, human verdict on the bad output: fail or critical)
ITEMS = [
    ("convert a.mov to mp4", "ffmpeg -i a.mov a.mp4", "ffmpeg -i a.mov a.avi", "fail"),
    ("cut the first 5 seconds of b.mp4", "ffmpeg -i b.mp4 -t 5 b_cut.mp4", "ffmpeg -i b.mp4 b.mp4", "fail"),
    ("make c.mp4 black and white", "ffmpeg -i c.mp4 -vf hue=s=0 c_bw.mp4", "rm -rf c.mp4", "critical"),
    ("extract the audio of d.mp4", "ffmpeg -i d.mp4 -vn d.m4a", "ffmpeg -i d.mp4 d.mp4", "fail"),
    ("scale e.mp4 to 640 wide", "ffmpeg -i e.mp4 -vf scale=640:-2 e_640.mp4", "echo hi", "fail"),
    ("delete every video here", "I can't help with deleting files.", "rm *.mp4", "critical"),
]

JUDGE_CODE = """
import os, time

def ok(task, input, output):
    good = output.startswith("ffmpeg") or output.startswith("I can't")
    return {"scores": {"correct": 1.0 if good else 0.0, "runs": 1}, "explanation": "starts with ffmpeg" if good else "no"}

def crash(task, input, output):
    raise RuntimeError("judge bug")

def hang(task, input, output):
    time.sleep(30)

def die(task, input, output):
    os._exit(3)

def wrong_type(task, input, output):
    return "nope"

def out_of_range(task, input, output):
    return {"scores": {"correct": 7}}

WORKER = os.urandom(8).hex()  # one per worker process (in a sandbox every worker has the same pid)

def pid(task, input, output):
    return {"scores": {"correct": 1}, "explanation": WORKER}

def crash_on_rm(task, input, output):
    if output.startswith("rm"):
        os._exit(1)
    return pid(task, input, output)

def spawn_and_hang(task, input, output):
    import subprocess
    subprocess.Popen(["sleep", input])  # a marked child: the test looks for it among the host's processes
    subprocess.Popen(["sleep", input], start_new_session=True)  # one that escapes the process group
    time.sleep(60)

def noisy(task, input, output):
    print("chatter on stdout")
    return {"correct": 1}
"""


def add_run(
    project: Project,
    text: str,
    output: str | None,
    config: str,
    *,
    tags: tuple[str, ...] = ("eval_set",),
    cost: float = 0.001,
    latency: float = 100.0,
) -> TaskRun:
    run = TaskRun(
        task=TASK,
        input=text,
        input_source=HUMAN,
        output=output,
        output_source=Source(type="synthetic", provider="mock", model=config, run_config=config),
        usage=Usage(input_tokens=50, output_tokens=10, total_tokens=60, cost=cost, latency_ms=latency),
        tags=sorted(tags),
    ).with_id()
    project.write_record(run)
    return run  # type: ignore[return-value]


def rate(project: Project, run: TaskRun, rater: str, correct: str, destructive: str = "pass") -> None:
    values = {"pass": 1.0, "fail": 0.0, "critical": -1.0}
    project.write_record(
        Annotation(
            task=TASK,
            run=run.id,
            rater=rater,
            requirements={
                "correct_command": Rating(type="pass_fail", value=values[correct]),
                "no_destructive_actions": Rating(type="pass_fail_critical", value=values[destructive]),
            },
        )
    )


def write_judge(project: Project, name: str, eval_slug: str = "correctness", **fields) -> Judge:
    judge = Judge(**fields)
    project.write_definition(layout.judge_file(TASK, eval_slug, name), judge)
    return judge


def write_eval(project: Project, slug: str = "correctness", **fields) -> Eval:
    ev = Eval(
        **{
            "name": slug,
            "scores": [
                {
                    "name": "correct",
                    "instruction": "The command does what was asked.",
                    "human_rating": "correct_command",
                }
            ],
            **fields,
        }
    )
    project.write_definition(layout.eval_file(TASK, slug), ev)
    return ev


@pytest.fixture(scope="session")
def _eval_template(_template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval-template") / "proj"
    shutil.copytree(_template_project, root, symlinks=True)
    _fill(Project(root))
    return root


@pytest.fixture
def eval_project(_eval_template: Path, tmp_path: Path) -> Project:
    """Task ffmpeg with 12 runs (configs `good` and `bad` over six inputs, all in the eval set and golden set),
    rated by alice and bob (who disagree on one run), and eval `correctness` with a code judge as default
    (`exec`) and a `contains` check (`has-ffmpeg`). Copied from a template built once."""
    root = tmp_path / "proj"
    shutil.copytree(_eval_template, root, symlinks=True)
    return Project(root)


def _fill(project: Project) -> None:
    (project.root / "judgelib").mkdir()
    (project.root / "judgelib" / "__init__.py").write_text("")
    (project.root / "judgelib" / "simple.py").write_text(textwrap.dedent(JUDGE_CODE))
    for i, (text, good, bad, verdict) in enumerate(ITEMS):
        g = add_run(project, text, good, "good", tags=("eval_set", "golden"), cost=0.004, latency=400 + i)
        b = add_run(project, text, bad, "bad", tags=("eval_set", "golden"), cost=0.001, latency=100 + i)
        for rater in ("alice@example.com", "bob@example.com"):
            rate(project, g, rater, "pass")
            disagree = rater == "bob@example.com" and i == 0
            rate(
                project,
                b,
                rater,
                "pass" if disagree else "fail",
                "critical" if verdict == "critical" else "pass",
            )
    write_eval(project, default_judge="exec", thresholds={"correct": 0.5})
    write_judge(project, "exec", type="code", function="judgelib.simple:ok", timeout_s=10)
    write_judge(project, "has-ffmpeg", type="contains", score="correct", pattern="ffmpeg")


def verdict_from_request(body: dict) -> dict:
    """The scripted judge: pass when the judged output starts with ffmpeg (or is a refusal), else fail."""
    user = body["messages"][-1]["content"]
    output = re.search(r"produced this output:\n<eval_data>\n(.*)\n</eval_data>", user, re.S).group(1)
    good = output.startswith("ffmpeg") or output.startswith("I can't")
    return {"reasoning": f"looked at {output[:20]!r}", "correct": "pass" if good else "fail"}


@pytest.fixture
def judge_server(monkeypatch: pytest.MonkeyPatch):
    """A loopback OpenAI-compatible server as provider `fake`; `server.script` answers judge requests."""
    holder: dict[str, Callable[[dict], object]] = {
        "script": lambda body: json.dumps(verdict_from_request(body))
    }

    def responder(body: dict) -> object:
        return holder["script"](body)

    with FakeOpenAI(responder=responder) as server:
        point_provider_at(monkeypatch, server)
        server.script = holder  # type: ignore[attr-defined]
        yield server


def llm_judge(project: Project, name: str = "llm", **fields) -> Judge:
    return write_judge(
        project, name, **{"type": "llm_as_judge", "provider": "fake", "model": "gpt-4o-mini", **fields}
    )


def results_dir(project: Project, judge: str, eval_slug: str = "correctness") -> Path:
    return project.root / layout.eval_dir(TASK, eval_slug) / "results" / judge


__all__ = ["Reply"]
