"""Shared test helpers for fine-tuning: a project with rated runs, an eval, and a split."""

from __future__ import annotations

from kilngit import layout
from kilngit.authoring import add_run
from kilngit.project import Project
from kilngit.records import Eval, EvalScore, Judge

TASK = "ffmpeg"


def add_runs(project: Project, n: int, tag: str | None = None, prefix: str = "convert") -> list[str]:
    """`n` human runs (input and output); returns their IDs."""
    ids = []
    for i in range(n):
        run = add_run(
            project,
            TASK,
            f"{prefix} file{i}.mov to mp4",
            f"ffmpeg -i file{i}.mov file{i}.mp4",
            tags=[tag] if tag else None,
            author="alice@example.com",
        )
        ids.append(run.id)
    return ids


def add_eval(project: Project, slug: str = "quality", judge_pattern: str = "ffmpeg -i") -> Eval:
    """An eval over `tag::eval_set` with a `contains` judge scoring `correct`."""
    ev = Eval(
        name="Quality",
        scores=[EvalScore(name="correct", instruction="A correct command.")],
        default_judge="contains",
    )
    project.write_definition(layout.eval_file(TASK, slug), ev)
    judge = Judge(type="contains", score="correct", pattern=judge_pattern)
    project.write_definition(layout.judge_file(TASK, slug, "contains"), judge)
    return ev


def split_and_finetune(
    project: Project,
    provider: str,
    name: str = "ft",
    base_model: str = "gpt-4o-mini",
    runs: int = 6,
    **kwargs,
) -> None:
    """Runs, a materialized train/test split `s`, and a fine-tune spec."""
    from kilngit.finetune.jobs import create_finetune
    from kilngit.finetune.splits import materialize_split, new_split, parse_parts

    add_runs(project, runs)
    new_split(project, TASK, "s", parse_parts(["train=0.5,test=0.5"]))
    materialize_split(project, TASK, "s")
    create_finetune(project, TASK, name, provider=provider, base_model=base_model, split="s", **kwargs)
