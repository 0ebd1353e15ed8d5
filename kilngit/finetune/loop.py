"""The eval-driven training loop: train a round, checkpoint, run the eval on the checkpoint, repeat.

    result = run_loop(project, "ffmpeg", "qwen-ft", LoopSettings(eval="correctness", threshold=0.75))

Round r trains `steps_per_round` more steps at learning rate `lr * lr_decay**(r-1)` (Tinker, from this
process), saves the training state and sampler weights, writes a run config `ft-<name>-r<r>` for them, and
runs the eval with that run config (`kilngit.evals.runner.run_eval`: the checkpoint answers the eval inputs,
the judge scores the answers). The round's score is the eval's quality for that run config (the mean of the
normalized score means). With `eval="inspect:PATH_OR_NAME"` an Inspect AI task scores the round instead,
calling the checkpoint through its OpenAI-compatible endpoint; its headline metric (accuracy, else mean) is
the score and every metric goes to `scores` (`kilngit.finetune.inspect_tasks`). The loop stops when a round reaches the threshold, else continues up to
`max_rounds`. Each finished round is a record (`rounds/<r>.json`); the best round is marked in the status,
whose `run_config` then names the best checkpoint's run config.

Resuming: finished rounds are never redone; a round cut short resumes its training from the last checkpoint
and its eval from the runs and judge results already written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kilngit.errors import ProviderError, UsageError
from kilngit.evals.results import find_eval, find_judge
from kilngit.evals.runner import run_eval
from kilngit.evals.scores import eval_scores
from kilngit.finetune.export import Tokenizer
from kilngit.finetune.inspect_tasks import run_inspect, task_spec
from kilngit.finetune.jobs import get_finetune, read_status, run_config_slug, write_status
from kilngit.finetune.metrics import read_metrics
from kilngit.finetune.tinker_job import TinkerTrainer
from kilngit.finetune.wandb_log import WandbLogger
from kilngit.project import Project
from kilngit.records import FineTuneRound, FineTuneStatus


@dataclass(frozen=True)
class LoopSettings:
    """How the loop trains and when it stops."""

    eval: str
    judge: str | None = None
    threshold: float = 0.75
    max_rounds: int = 3
    lr: float = 3e-4
    lr_decay: float = 0.6
    steps_per_round: int | None = None
    """Default: one pass over the training examples."""
    checkpoint_every: int | None = None
    """Checkpoint inside a round this often (default: the fine-tune's `checkpoint_every` param)."""
    concurrency: int = 8
    cache: str | None = None
    """Response cache mode for the eval's model calls (default: the project's)."""
    wandb_project: str | None = None

    def learning_rate(self, round_number: int) -> float:
        return self.lr * self.lr_decay ** (round_number - 1)


@dataclass
class LoopResult:
    """What the loop did: every finished round, the best one, and why it stopped."""

    rounds: list[FineTuneRound] = field(default_factory=list)
    best: FineTuneRound | None = None
    reason: str = ""
    status: FineTuneStatus | None = None
    reached_threshold: bool = False
    """True when a round reached the threshold (the CLI exits 1 otherwise)."""


def _check(settings: LoopSettings) -> None:
    if settings.max_rounds < 1 or settings.lr <= 0 or not 0 < settings.lr_decay <= 1:
        raise UsageError("invalid loop settings", "max rounds >= 1, lr > 0, 0 < lr decay <= 1")
    if settings.steps_per_round is not None and settings.steps_per_round < 1:
        raise UsageError("--steps-per-round must be at least 1")


def run_loop(
    project: Project,
    task: str | None,
    name: str,
    settings: LoopSettings,
    *,
    service: Any = None,
    tokenizer: Tokenizer | None = None,
    on_round: Callable[[FineTuneRound], None] | None = None,
) -> LoopResult:
    """Run (or resume) the loop; see the module docstring."""
    _check(settings)
    task = project.task_slug(task)
    spec = get_finetune(project, task, name)
    if spec.provider != "tinker":
        raise UsageError(
            f"fine-tune {name!r} uses {spec.provider}; the loop trains from this process",
            "create a fine-tune with --provider tinker for the loop",
        )
    if task_spec(settings.eval) is None:
        find_eval(project, task, settings.eval)
        judge: str | None = find_judge(project, task, settings.eval, settings.judge)
    elif settings.judge is not None:
        raise UsageError(
            "--judge is for kilngit evals; an Inspect task scores with its own scorer", "leave out --judge"
        )
    else:
        judge = None
    status = read_status(project, task, name)
    if status.state == "cancelled":  # running the loop again is the way to resume it
        write_status(project, status, state="pending")
    done = project.finetune_rounds(task, name)
    if not done and any(m.round is None for m in read_metrics(project, task, name)):
        raise UsageError(
            f"fine-tune {name!r} was trained outside the loop (kilngit finetune start)",
            "the loop trains from the base model: create another fine-tune for it",
        )
    result = LoopResult(rounds=list(done.values()))
    logger = (
        WandbLogger.start(settings.wandb_project, f"{task}/{name}", settings)
        if settings.wandb_project
        else None
    )
    trainer: TinkerTrainer | None = None
    try:
        for r in range(1, settings.max_rounds + 1):
            if r not in done:
                trainer = trainer or TinkerTrainer(
                    project, task, name, spec, service=service, tokenizer=tokenizer
                )
                rec = _round(project, task, name, trainer, r, done.get(r - 1), settings, judge, logger)
                if rec is None:
                    result.reason = "cancelled"
                    break
                done[r] = rec
                result.rounds.append(rec)
                if on_round is not None:
                    on_round(rec)
            if done[r].reached_threshold:
                result.reason = f"reached {settings.threshold:g} in round {r}"
                result.reached_threshold = True
                break
        else:
            result.reason = f"stopped after {settings.max_rounds} rounds below {settings.threshold:g}"
    finally:
        if trainer is not None and service is None:
            trainer.close()
        if logger is not None:
            logger.finish()
    result.best = max(
        result.rounds, key=lambda x: (x.score if x.score is not None else -1.0, -x.round), default=None
    )
    result.status = _mark_best(project, task, name, result)
    return result


def _round(
    project: Project,
    task: str,
    name: str,
    trainer: TinkerTrainer,
    r: int,
    previous: FineTuneRound | None,
    settings: LoopSettings,
    judge: str | None,
    logger: WandbLogger | None,
) -> FineTuneRound | None:
    """Train, checkpoint and evaluate round `r`; None when the job was cancelled meanwhile."""
    lr = settings.learning_rate(r)
    steps = settings.steps_per_round or math.ceil(len(trainer.datums) / trainer.batch_size)
    start = previous.step if previous else 0
    trainer.train_to(
        start + steps,
        lr,
        round_number=r,
        checkpoint_every=settings.checkpoint_every,
        on_step=logger.step if logger else None,
    )
    if trainer.cancelled():
        return None
    checkpoint = trainer.save_state()
    label = f"round-{r}-step-{start + steps:06d}"
    sampler = trainer.status.sampler_checkpoint
    if not (sampler and sampler.endswith("/" + label)):  # saved before a crash: reuse it
        sampler = trainer.save_sampler(label)
    slug = trainer.run_config(
        sampler,
        run_config_slug(name, f"r{r}"),
        f"Round {r} of kilngit fine-tune loop {name!r} (step {start + steps}, lr {lr:g}).",
    )
    if judge is None:  # an Inspect task: its scorer is the round's judge
        inspected = run_inspect(project, task, settings.eval, slug)
        scores, score, items, judge = inspected.scores, inspected.score, inspected.items, inspected.scorer
    else:
        scores, score, items = _evaluate(project, task, settings, judge, slug)
    losses = [m.loss for m in read_metrics(project, task, name) if m.round == r and m.loss is not None]
    rec = FineTuneRound(
        task=task,
        finetune=name,
        round=r,
        learning_rate=lr,
        steps=steps,
        step=start + steps,
        loss=sum(losses) / len(losses) if losses else None,
        checkpoint=checkpoint,
        sampler_checkpoint=sampler,
        run_config=slug,
        eval=settings.eval,
        judge=judge,
        scores=scores,
        score=score,
        items=items,
        threshold=settings.threshold,
        reached_threshold=score is not None and score >= settings.threshold,
    )
    project.write_record(rec)
    if logger is not None:
        logger.round(rec)
    return rec


def _evaluate(
    project: Project, task: str, settings: LoopSettings, judge: str, run_config: str
) -> tuple[dict[str, float], float | None, int]:
    """Run the eval with a round's run config; its normalized scores, quality and number of items judged."""
    summary = run_eval(
        project,
        task,
        settings.eval,
        judges=[judge],
        configs=[run_config],
        concurrency=settings.concurrency,
        cache=settings.cache,
        progress=False,
    )
    if summary.fatal is not None or summary.interrupted:
        raise ProviderError(
            f"the eval of {run_config!r} stopped: {summary.fatal or 'interrupted'}",
            "fix the cause and re-run the loop: it resumes this round's eval",
        )
    board = eval_scores(Project(project.root), task, settings.eval, judge)
    group = next((g for g in board.groups if g.group == run_config), None)
    if group is None or group.missing_inputs or group.unjudged:
        missing = (group.missing_inputs + group.unjudged) if group else board.inputs
        raise ProviderError(
            f"the eval of {run_config!r} is incomplete ({missing} of {board.inputs} items without a score)",
            "re-run the loop: it resumes with the missing items",
        )
    scores = {k: s.normalized for k, s in group.scores.items() if s.normalized is not None}
    return scores, group.quality, group.n


def _mark_best(project: Project, task: str, name: str, result: LoopResult) -> FineTuneStatus:
    status = read_status(project, task, name)
    best = result.best
    if best is None:
        return status
    state = "cancelled" if result.reason == "cancelled" else "succeeded"
    return write_status(
        project,
        status,
        state=state,
        best_round=best.round,
        run_config=best.run_config,
        fine_tuned_model=best.sampler_checkpoint,
    )
