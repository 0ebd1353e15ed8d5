"""A synthetic project with known true labels, for measuring `kilngit audit`: wrong golden labels are planted
and the audit is scored on finding them (used by tests/evals/test_audit.py and bench/audit_recall.py).

Every run has a true pass/fail. Four judges of eval `correctness` have results written directly (an execution
judge `exec` right 92% of the time, LLM judges right 85% and 78%, and a `strict` judge that fails a third of
the good answers). Three people label the golden runs:

* alice is careful (right 95% of the time, 20-60 s per item); a few of her labels are flipped on purpose
  (planted mistakes with nothing odd about how they were made);
* bob labels one generation session in a fast burst: every run "pass", one second apart, under a second on
  screen (planted: the truly failing runs of that session); his other labels are careful;
* carol's labels follow the session: everything of one session "fail", of another "pass".

Twenty runs are labeled by both alice and bob. The planted wrong labels are the golden runs whose consensus
differs from the truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kilngit import layout
from kilngit.authoring import new_task
from kilngit.init import init_project
from kilngit.project import Project
from kilngit.records import Annotation, Eval, Judge, JudgeResult, Rating, Requirement, Source, TaskRun
from kilngit.records.annotation import utc_stamp
from kilngit.records.evals import judge_hash

TASK, EVAL = "ffmpeg", "correctness"
JUDGES = {"exec": 0.92, "llm-a": 0.85, "llm-b": 0.78}


@dataclass
class Synthetic:
    project: Project
    truth: dict[str, bool]
    planted: set[str]
    """Golden runs whose human consensus is wrong."""
    disputed: set[str]


def build(root: Path, seed: int = 7, n: int = 120) -> Synthetic:
    """Write the synthetic project at `root` (a new folder)."""
    rng = random.Random(seed)
    project = init_project(root, name="audit-synthetic")
    new_task(
        project,
        TASK,
        "Turn a request into one ffmpeg command.",
        "NL to ffmpeg",
        [Requirement(name="correct_command", instruction="The command does what was asked.")],
    )
    ev = Eval(
        name="Correctness",
        scores=[
            {"name": "correct", "instruction": "Does what was asked.", "human_rating": "correct_command"}
        ],
        golden_set="tag::golden",
    )
    project.write_definition(layout.eval_file(TASK, EVAL), ev)
    judges = {
        "exec": Judge(type="code", function="judges.exec:judge"),
        "strict": Judge(type="llm_as_judge", provider="fake", model="strict-model"),
    }
    judges.update(
        {name: Judge(type="llm_as_judge", provider="fake", model=name) for name in JUDGES if name != "exec"}
    )
    for name, judge in judges.items():
        project.write_definition(layout.judge_file(TASK, EVAL, name), judge)
    runs, truth = [], {}
    for i in range(n):
        session = "synthetic_session_" + "ABCD"[i * 4 // n]
        good = rng.random() < 0.6
        text = f"request {i}: " + "convert the clip and keep the audio track intact " * rng.randint(2, 6)
        output = f"ffmpeg -i in{i}.mov " + ("-c:a copy " if good else "-an ") + f"out{i}.mp4"
        run = TaskRun(
            task=TASK,
            input=text,
            input_source=Source(type="human", created_by="maker@example.com"),
            output=output,
            output_source=Source(type="synthetic", provider="mock", model="m"),
            tags=sorted({"golden", session}),
        ).with_id()
        project.write_record(run)
        runs.append((run, session))
        truth[run.id] = good
    for name, judge in judges.items():
        accuracy = JUDGES.get(name)
        for run, _ in runs:
            good = truth[run.id]
            if accuracy is None:  # strict: fails a third of the good answers, every bad one
                says = good and rng.random() > 1 / 3
            else:
                says = good if rng.random() < accuracy else not good
            why = (
                ("exit 0; out.mp4 has audio" if says else "exit 0; out.mp4 has no audio stream")
                if name == "exec"
                else f"{name} thinks it {'works' if says else 'does not work'}"
            )
            project.write_record(
                JudgeResult(
                    task=TASK,
                    eval=EVAL,
                    judge=name,
                    judge_hash=judge_hash(judge, ev, judges),
                    run=run.id,
                    scores={"correct": 1.0 if says else 0.0},
                    explanation=why,
                ).with_id()
            )
    labels: dict[str, dict[str, bool]] = {}
    clock = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    flipped = set(rng.sample([r.id for r, s in runs if s == "synthetic_session_B"], 5))
    for run, session in runs:
        if session == "synthetic_session_A":  # bob's fast burst: everything passes
            clock += timedelta(seconds=1)
            _label(project, run, "bob@example.com", True, clock, 0.8)
            labels.setdefault(run.id, {})["bob"] = True
        elif session == "synthetic_session_B":  # alice, careful, five planted flips
            clock += timedelta(seconds=rng.randint(30, 90))
            value = truth[run.id] if rng.random() < 0.95 else not truth[run.id]
            value = (not truth[run.id]) if run.id in flipped else value
            _label(project, run, "alice@example.com", value, clock, rng.uniform(20, 60))
            labels.setdefault(run.id, {})["alice"] = value
        else:  # carol: session C all fail, session D all pass
            clock += timedelta(seconds=rng.randint(20, 60))
            value = session == "synthetic_session_D"
            _label(project, run, "carol@example.com", value, clock, rng.uniform(15, 40))
            labels.setdefault(run.id, {})["carol"] = value
    overlap = [r for r, s in runs if s == "synthetic_session_B"][:20]
    for run in overlap:  # bob, careful this time, on twenty of alice's runs
        clock += timedelta(seconds=rng.randint(30, 90))
        value = truth[run.id] if rng.random() < 0.9 else not truth[run.id]
        _label(project, run, "bob@example.com", value, clock, rng.uniform(20, 60))
        labels[run.id]["bob"] = value
    planted, disputed = set(), set()
    for run_id, given in labels.items():
        if len(set(given.values())) > 1:
            disputed.add(run_id)
        elif next(iter(given.values())) != truth[run_id]:
            planted.add(run_id)
    return Synthetic(Project(root), truth, planted, disputed)


def _label(project: Project, run: TaskRun, rater: str, value: bool, when: datetime, seconds: float) -> None:
    project.write_record(
        Annotation(
            task=TASK,
            run=run.id,
            rater=rater,
            rated_at=utc_stamp(when),
            seconds_on_item=round(seconds, 1),
            requirements={"correct_command": Rating(type="pass_fail", value=1.0 if value else 0.0)},
        )
    )


def score(found: list[str], planted: set[str]) -> tuple[float, float]:
    """(recall, precision) of the runs an audit flagged against the planted ones."""
    hits = len(set(found) & planted)
    return (hits / len(planted) if planted else 1.0), (hits / len(found) if found else 1.0)
