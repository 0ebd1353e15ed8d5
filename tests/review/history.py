"""A project history for review tests: a base commit with runs, ratings, an eval, a judge and its results,
and a branch that changes them the way a pull request would."""

from __future__ import annotations

from dataclasses import dataclass

from kilngit import layout
from kilngit.project import Project
from kilngit.records import Eval, EvalScore, Judge, JudgeResult, RunConfig, Source, TaskRun
from kilngit.records.evals import judge_hash
from kilngit.review.rating import RatingChange, parse_overall, rate
from tests.conftest import git
from tests.review.conftest import commit

ALICE, BOB = "alice@example.com", "bob@example.com"


@dataclass
class History:
    project: Project
    base: str
    head: str
    runs: list[TaskRun]
    """Runs of the base commit, in ID order."""
    new_runs: list[TaskRun]


def model_run(project: Project, text: str, output: str, config: str = "fast", tags=()) -> TaskRun:
    human = Source(type="human", created_by="maker@example.com")
    out = Source(type="synthetic", provider="fake", model="m-1", run_config=config)
    run = TaskRun(
        task="ffmpeg", input=text, input_source=human, output=output, output_source=out, tags=sorted(tags)
    ).with_id()
    project.write_record(run)
    return run  # type: ignore[return-value]


def judge_all(
    project: Project, runs: list[TaskRun], scores: dict[str, float], judge: str = "contains"
) -> None:
    ev = project.evals("ffmpeg")["accuracy"]
    definition = project.judges("ffmpeg", "accuracy")[judge]
    for run in runs:
        value = scores.get(run.id, 1.0 if "ffmpeg -i" in (run.output or "") else 0.0)
        project.write_record(
            JudgeResult(
                task="ffmpeg",
                eval="accuracy",
                judge=judge,
                judge_hash=judge_hash(definition, ev),
                run=run.id,
                scores={"correct_command": value},
            )
        )


def build_history(project: Project) -> History:
    """Base: 4 model runs (eval_set), 2 tagged golden and rated by alice, judged. Branch `pr`: bob rates,
    alice changes a rating, a run joins the golden set, 2 new runs and their judge results, the eval edited."""
    project.write_definition(
        layout.run_config_file("ffmpeg", "fast"), RunConfig(provider="fake", model="m-1", prompt="default")
    )
    project.write_definition(
        layout.eval_file("ffmpeg", "accuracy"),
        Eval(
            name="accuracy",
            scores=[EvalScore(name="correct_command", instruction="Does it work?")],
            default_judge="contains",
        ),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "accuracy", "contains"),
        Judge(type="contains", score="correct_command", pattern="ffmpeg -i"),
    )
    outputs = ["ffmpeg -i a.mov a.mp4", "ffmpeg -i b.mov b.webm", "rm -rf /", "ffmpeg -i c.wav c.mp3"]
    runs = sorted(
        (
            model_run(project, f"request {i}", out, tags=["eval_set"] + (["golden"] if i < 2 else []))
            for i, out in enumerate(outputs)
        ),
        key=lambda r: r.id,
    )
    judge_all(project, runs, {})
    golden = [r for r in runs if "golden" in r.tags]
    for r in golden:
        rate(
            project,
            r.id,
            RatingChange(overall=parse_overall("pass"), requirements={"correct_command": "pass"}),
            ALICE,
        )
    base = commit(project, "base")
    git(project.root, "checkout", "-qb", "pr")
    project = Project(project.root)
    bad = next(r for r in runs if r.output == "rm -rf /")
    rate(
        project,
        golden[0].id,
        RatingChange(requirements={"correct_command": "fail"}, note="wrong codec"),
        ALICE,
    )
    rate(project, golden[0].id, RatingChange(requirements={"correct_command": "fail"}), BOB)
    rate(
        project,
        bad.id,
        RatingChange(
            overall=parse_overall("critical"), requirements={"correct_command": "fail"}, tags_add=("golden",)
        ),
        BOB,
    )
    new = [
        model_run(project, "request new", "ffmpeg -i new.mov new.mp4", tags=["eval_set"]),
        model_run(project, "request new 2", "sox in.wav out.mp3", tags=["eval_set"]),
    ]
    judge_all(project, new, {})
    ev = project.evals("ffmpeg")["accuracy"]
    project.write_definition(
        layout.eval_file("ffmpeg", "accuracy"), ev.model_copy(update={"description": "v2"})
    )
    head = commit(project, "pr")
    return History(Project(project.root), base, head, runs, new)
