"""`kilngit prompt new`, `config new`, `judge new` (and `eval new`, `task set-schema` in their groups): write
commented definitions that validate."""

from __future__ import annotations

import click

from kilngit.cli._common import current_project
from kilngit.records.judge_types import JUDGE_TYPES

_TASK = click.option("--task", help="Task (default: the project's only task).")
#: The judge fields `judge new` has options for; types that need others (grounded: evidence) are written by
#: hand, or with `kilngit.scaffold.new_judge`.
_JUDGE_FIELDS = {"provider", "model", "instructions", "function", "score", "pattern"}
JUDGE_NEW_TYPES = [name for name, spec in JUDGE_TYPES.items() if set(spec.needs) <= _JUDGE_FIELDS]


@click.group()
def prompt() -> None:
    """Create prompts."""


@prompt.command("new")
@click.argument("slug")
@_TASK
@click.option("--system", help="System message (default: the task's instruction).")
@click.option(
    "--cot", "chain_of_thought", is_flag=True, help="Chain of thought: think first, keep the reasoning."
)
@click.option("--few-shot", type=click.IntRange(min=1), help="Show this many highly rated runs as examples.")
@click.option("--description", help="What the prompt is for.")
def prompt_new(
    slug: str,
    task: str | None,
    system: str | None,
    chain_of_thought: bool,
    few_shot: int | None,
    description: str | None,
) -> None:
    """Write tasks/TASK/prompts/SLUG.yaml (commented)."""
    from kilngit.scaffold import new_prompt

    _done(
        new_prompt(
            current_project(),
            task,
            slug,
            system=system,
            chain_of_thought=chain_of_thought,
            few_shot=few_shot,
            description=description,
        )
    )


@click.group()
def config() -> None:
    """Create run configs."""


@config.command("new")
@click.argument("slug")
@_TASK
@click.option(
    "--provider", required=True, help="Provider name (openai, ollama, a name from your providers.yaml)."
)
@click.option("--model", required=True, help="Model name as the provider knows it.")
@click.option("--prompt", default="default", show_default=True, help="Prompt slug.")
@click.option("--temperature", type=click.FloatRange(0, 2))
@click.option("--max-tokens", type=click.IntRange(min=1))
@click.option("--description", help="What the run config is for.")
def config_new(
    slug: str,
    task: str | None,
    provider: str,
    model: str,
    prompt: str,
    temperature: float | None,
    max_tokens: int | None,
    description: str | None,
) -> None:
    """Write tasks/TASK/run_configs/SLUG.yaml (commented)."""
    from kilngit.scaffold import new_config

    _done(
        new_config(
            current_project(),
            task,
            slug,
            provider=provider,
            model=model,
            prompt=prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            description=description,
        )
    )


@click.group()
def judge() -> None:
    """Create judges."""


@judge.command("new")
@click.argument("eval_slug", metavar="EVAL")
@click.argument("slug")
@_TASK
@click.option(
    "--type",
    "judge_type",
    required=True,
    type=click.Choice(JUDGE_NEW_TYPES),
    help="Judge type.",
)
@click.option("--provider", help="LLM judges: provider name.")
@click.option("--model", help="LLM judges: model name.")
@click.option("--instructions", help="LLM judges: extra instructions.")
@click.option("--function", help="code: module:function importable from the project root.")
@click.option(
    "--score", help="Simple checks: the eval score the check sets (default: the eval's only score)."
)
@click.option("--pattern", help="regex / contains / not_contains / exact_match: the pattern or text.")
def judge_new(
    eval_slug: str,
    slug: str,
    task: str | None,
    judge_type: str,
    provider: str | None,
    model: str | None,
    instructions: str | None,
    function: str | None,
    score: str | None,
    pattern: str | None,
) -> None:
    """Write tasks/TASK/evals/EVAL/judges/SLUG.yaml (commented); the eval's first judge becomes its default."""
    from kilngit.scaffold import new_judge

    _done(
        new_judge(
            current_project(),
            task,
            eval_slug,
            slug,
            judge_type,
            provider=provider,
            model=model,
            instructions=instructions,
            function=function,
            score=score,
            pattern=pattern,
        )
    )


def _done(path) -> None:  # type: ignore[no-untyped-def]
    click.echo(f"wrote {path}")
