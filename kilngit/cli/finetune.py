"""`kilngit finetune create|start|status|cancel|export|loop`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kilngit.cli._common import PathArg, current_project, format_option, print_json
from kilngit.finetune.backends import BUILTIN as BACKENDS
from kilngit.finetune.backends.base import PollPolicy

_TASK = click.option("--task", help="Task of the fine-tune (default: the only task).")


@click.group()
def finetune() -> None:
    """Fine-tune models on a dataset split (OpenAI, Fireworks, Together or Tinker) and train against an eval."""


@finetune.command("create")
@click.argument("name")
@_TASK
@click.option("--provider", type=click.Choice(sorted(BACKENDS)), required=True, help="Fine-tune backend.")
@click.option("--base-model", required=True, help="Model to fine-tune, as the provider names it.")
@click.option("--split", required=True, help="Dataset split to train on.")
@click.option("--train-part", default="train", show_default=True)
@click.option("--validation-part", help="Split part uploaded as validation data (hosted backends).")
@click.option("--prompt", help="Prompt the examples and the fine-tuned model use (default: default).")
@click.option(
    "--train-on",
    type=click.Choice(["final_answer", "repaired_output", "reasoning_and_answer"]),
    default="final_answer",
    show_default=True,
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="K=V",
    help="Hyperparameter of the backend, e.g. n_epochs=3 (OpenAI), lora_rank=16 (Fireworks), "
    "learning_rate=1e-4 (Tinker); see docs/finetune.md.",
)
@click.option("--description")
def create(
    name: str,
    task: str | None,
    provider: str,
    base_model: str,
    split: str,
    train_part: str,
    validation_part: str | None,
    prompt: str | None,
    train_on: str,
    params: tuple[str, ...],
    description: str | None,
) -> None:
    """Write the spec tasks/TASK/finetunes/NAME/finetune.yaml."""
    from kilngit.finetune.jobs import create_finetune, parse_params

    project = current_project()
    create_finetune(
        project,
        project.task_slug(task),
        name,
        provider=provider,
        base_model=base_model,
        split=split,
        params=parse_params(params, provider),
        train_part=train_part,
        validation_part=validation_part,
        prompt=prompt,
        train_on=train_on,
        description=description,
    )
    click.echo(f"created fine-tune {name!r}; dispatch it with: kilngit finetune start {name}")


@finetune.command("start")
@click.argument("name")
@_TASK
@click.option("--wait", is_flag=True, help="OpenAI: poll until the job ends.")
@click.option("--retry", is_flag=True, help="Replace a failed or cancelled job (uploaded files are reused).")
@click.option("--poll-interval", default=5.0, show_default=True, help="First pause between polls (s).")
@click.option("--timeout", type=float, help="Stop waiting after this many seconds (the job goes on).")
def start(
    name: str, task: str | None, wait: bool, retry: bool, poll_interval: float, timeout: float | None
) -> None:
    """Dispatch fine-tune NAME, or resume it where it stopped (never a second job or upload)."""
    from kilngit.finetune.dispatch import start_finetune

    status = start_finetune(
        current_project(),
        task,
        name,
        wait=wait,
        retry=retry,
        poll=PollPolicy(interval=poll_interval, timeout=timeout),
    )
    click.echo(_describe(name, status))


@finetune.command("status")
@click.argument("name", required=False)
@_TASK
@click.option("--no-refresh", is_flag=True, help="Show the status files without asking the provider.")
@format_option("text", "json")
def status(name: str | None, task: str | None, no_refresh: bool, fmt: str) -> None:
    """Refresh and show fine-tune NAME (default: all)."""
    from kilngit.finetune.dispatch import finetune_summaries

    summaries = finetune_summaries(current_project(), task, name, refresh=not no_refresh)
    if fmt == "json":
        print_json([s.to_dict() for s in summaries])
        return
    if not summaries:
        click.echo("no fine-tunes yet (kilngit finetune create NAME ...)")
    for s in summaries:
        loss = f", loss {s.last_loss:.4g} at step {s.steps}" if s.last_loss is not None else ""
        click.echo(_describe(s.name, s.status) + loss)
        if s.refresh_error:
            click.echo(f"  (not refreshed: {s.refresh_error})")


@finetune.command("cancel")
@click.argument("name")
@_TASK
def cancel(name: str, task: str | None) -> None:
    """Cancel fine-tune NAME at its provider."""
    from kilngit.finetune.dispatch import cancel_finetune

    click.echo(_describe(name, cancel_finetune(current_project(), task, name)))


@finetune.command("export")
@click.argument("name")
@_TASK
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openai", "tinker"]),
    required=True,
    help="openai: chat JSONL (what OpenAI, Fireworks and Together train on); tinker: rendered "
    "token datums (JSONL).",
)
@click.option("--part", help="Split part to export (default: the fine-tune's train part).")
@click.option("--out", "out", type=PathArg(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export(name: str, task: str | None, fmt: str, part: str | None, out: Path | None) -> None:
    """Export the training data of fine-tune NAME."""
    from kilngit.finetune.jobs import export_finetune

    project = current_project()
    result = export_finetune(project, project.task_slug(task), name, fmt, part=part)
    if out is None:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    else:
        out.write_bytes(result.data)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(result.examples.skipped.items()))
    click.echo(
        f"{len(result.examples.examples)} examples from {result.examples.runs} runs"
        + (f" (skipped: {skipped})" if skipped else ""),
        err=True,
    )


@finetune.command("loop")
@click.argument("name")
@_TASK
@click.option(
    "--eval",
    "eval_slug",
    required=True,
    help="Eval scoring each round's checkpoint, or inspect:PATH_OR_NAME for an Inspect AI task.",
)
@click.option("--judge", help="Judge to score with (default: the eval's default judge; not with inspect:).")
@click.option(
    "--threshold", default=0.75, show_default=True, help="Stop when the round's score reaches this."
)
@click.option("--max-rounds", default=3, show_default=True)
@click.option("--lr", default=3e-4, show_default=True, help="Learning rate of round 1.")
@click.option(
    "--lr-decay", default=0.6, show_default=True, help="Each next round's rate is this times the last."
)
@click.option("--steps-per-round", type=int, help="Default: one pass over the training examples.")
@click.option("--wandb", "wandb_project", help="Also log to this Weights & Biases project (needs wandb).")
def loop(
    name: str,
    task: str | None,
    eval_slug: str,
    judge: str | None,
    threshold: float,
    max_rounds: int,
    lr: float,
    lr_decay: float,
    steps_per_round: int | None,
    wandb_project: str | None,
) -> None:
    """Train fine-tune NAME round by round against an eval, until the threshold or the last round.

    Exits 1 when no round reached the threshold (or the loop was cancelled)."""
    from kilngit.finetune.loop import LoopSettings, run_loop

    settings = LoopSettings(
        eval=eval_slug,
        judge=judge,
        threshold=threshold,
        max_rounds=max_rounds,
        lr=lr,
        lr_decay=lr_decay,
        steps_per_round=steps_per_round,
        wandb_project=wandb_project,
    )
    result = run_loop(
        current_project(), task, name, settings, on_round=lambda r: click.echo(_round_line(r), err=True)
    )
    best = result.best
    click.echo(
        f"{name}: {result.reason}; best round {best.round} (score {best.score:.3f}), run config "
        f"{best.run_config}"
        if best
        else f"{name}: {result.reason}"
    )
    if not result.reached_threshold:
        click.get_current_context().exit(1)  # the line above says why; a script sees the failure


def _round_line(r) -> str:  # type: ignore[no-untyped-def]
    score = "n/a" if r.score is None else f"{r.score:.3f}"
    loss = "n/a" if r.loss is None else f"{r.loss:.4g}"
    return f"round {r.round}: lr {r.learning_rate:g}, {r.steps} steps, loss {loss}, score {score}"


def _describe(name: str, status) -> str:  # type: ignore[no-untyped-def]
    parts = [f"{name}: {status.state}"]
    if status.provider_job_id:
        parts.append(f"job {status.provider_job_id}")
    if status.step:
        parts.append(f"step {status.step}")
    if status.fine_tuned_model:
        parts.append(f"model {status.fine_tuned_model}")
    if status.run_config:
        parts.append(f"run config {status.run_config}")
    if status.error:
        parts.append(f"error: {status.error}")
    return ", ".join(parts)
