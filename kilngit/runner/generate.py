"""Synthetic inputs from a topic tree: ask the model for topics (and subtopics), then for inputs per topic.

Each new input is stored as an input-only run (no output yet) whose `input_source` records the provider,
model, run config and topic path, ready to be answered by any run config (`kilngit run task --filter
input_only`). An input whose text (whitespace and case aside) is already in the task is a duplicate: it is
skipped and reported, never stored twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kilngit.errors import KilngitError, UsageError
from kilngit.project import Project
from kilngit.providers.base import ChatRequest, Provider
from kilngit.providers.registry import get_provider
from kilngit.records import RunConfig, Source, Task, TaskRun
from kilngit.runner.answers import response_problem, unfence
from kilngit.runner.batch import Outcome, Tally, run_batch, run_sync
from kilngit.runner.inputs import check_tags
from kilngit.runner.json_check import schema_errors
from kilngit.runner.prompts import get_run_config
from kilngit.runner.run_task import json_schema_support

_LIST_SCHEMA = {
    "type": "object",
    "properties": {"items": {"type": "array", "items": {"type": "string"}}},
    "required": ["items"],
    "additionalProperties": False,
}


@dataclass
class GenerateSummary(Tally, Outcome):
    """What a generation did (`failed`: unusable answers by kind; `not_recorded`: provider failures)."""

    topics: list[list[str]] = field(default_factory=list)
    """The leaf topic paths inputs were asked for."""
    created: list[TaskRun] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def failures(self) -> Counter[str]:
        return self.failed + self.not_recorded

    @property
    def reasons(self) -> dict[str, str]:
        return {kind: messages[0] for kind, messages in self.examples.items()}

    def fail(self, kind: str, message: str) -> None:
        self.note(self.failed, kind, message)

    def check(self) -> None:
        """`Outcome.check`, and no new input at all is an error too."""
        super().check()
        if not self.created:
            why = (
                "every input the model gave is a duplicate"
                if self.duplicates
                else "the model gave no usable input"
            )
            raise KilngitError(
                f"no new inputs: {why}", "try other --topic values, more --subtopics, or another model"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "topics": self.topics,
            "created": [r.id for r in self.created],
            "duplicates": self.duplicates,
            "failures": dict(self.failures),
            "reasons": self.reasons,
            "fatal": str(self.fatal) if self.fatal else None,
            "seconds": round(self.seconds, 2),
        }

    def lines(self) -> list[str]:
        out = [
            f"{len(self.created)} new inputs over {len(self.topics)} topics, {len(self.duplicates)} duplicates "
            f"skipped, in {self.seconds:.1f}s"
        ]
        out += [f"  duplicate: {text[:100]}" for text in self.duplicates[:10]]
        out += [f"  {n} failed: {kind}: {self.reasons[kind]}" for kind, n in sorted(self.failures.items())]
        return out  # a fatal failure is the caller's to raise (and print once)


def normalized(text: str) -> str:
    """The form inputs are compared in to find duplicates: case-folded, whitespace collapsed."""
    return " ".join(text.split()).casefold()


@dataclass
class _Generator:
    project: Project
    task_slug: str
    task: Task
    config_slug: str
    config: RunConfig
    provider: Provider
    json_schema: bool
    summary: GenerateSummary

    def _request(self, ask: str, item_schema: dict[str, Any] | None = None) -> ChatRequest:
        system = (
            f"You help build a data set of inputs for an AI task. The task's instruction is:\n\n"
            f"{self.task.instruction.strip()}"
        )
        fmt = None
        schema = (
            _LIST_SCHEMA
            if item_schema is None
            else {**_LIST_SCHEMA, "properties": {"items": {"type": "array", "items": item_schema}}}
        )
        if self.json_schema:
            fmt = {"type": "json_schema", "json_schema": {"name": "items", "schema": schema, "strict": False}}
        else:
            ask += f"\n\nAnswer with JSON only, matching this schema:\n{json.dumps(schema)}"
        return ChatRequest(
            model=self.config.model,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            max_tokens=self.config.max_tokens,
            response_format=fmt,
            messages=({"role": "system", "content": system}, {"role": "user", "content": ask}),
        )

    async def ask_list(self, request: ChatRequest) -> list[Any]:
        """The items the model listed, [] (with the failure noted) when it could not."""
        response = await self.provider.complete(request)  # a RequestFailed is the batch engine's to count
        problem = response_problem(response)
        if problem:
            self.summary.fail(problem.type, problem.message)
            return []
        try:
            value = json.loads(unfence(response.content or ""))
        except ValueError:
            self.summary.fail("malformed", "the answer is not the JSON list asked for")
            return []
        items = value.get("items") if isinstance(value, dict) else value
        if not isinstance(items, list):
            self.summary.fail("malformed", "the answer has no list of items")
            return []
        return items

    async def subtopics(self, path: list[str], count: int) -> list[str]:
        where = f"the topic {' > '.join(path)}" if path else "the inputs this task receives"
        items = await self.ask_list(
            self._request(
                f"List {count} distinct subtopics of {where}, each a short phrase, covering different kinds of "
                f"requests a user could make."
            )
        )
        return [str(t).strip() for t in items if str(t).strip()][:count]

    async def inputs(self, path: list[str], count: int) -> list[str]:
        about = f" about the topic: {' > '.join(path)}" if path else ""
        ask = (
            f"Write {count} distinct, realistic inputs a user might give this task{about}. Vary their wording, "
            f"length and difficulty; include a few unusual or tricky ones."
        )
        schema = self.task.input_schema
        out = []
        for item in await self.ask_list(self._request(ask, schema)):
            if schema is None:
                if isinstance(item, str) and item.strip():
                    out.append(item.strip())
                continue
            if schema_errors(item, schema):
                self.summary.fail(
                    "invalid_output", "a generated input does not match the task's input_schema"
                )
                continue
            out.append(json.dumps(item, ensure_ascii=False))
        return out

    def store(self, text: str, path: list[str], seen: set[str], tags: Sequence[str]) -> None:
        key = normalized(text)
        if key in seen:
            self.summary.duplicates.append(text)
            return
        seen.add(key)
        source = Source(
            type="synthetic",
            provider=self.config.provider,
            model=self.config.model,
            run_config=self.config_slug,
            topic=list(path) or None,
        )
        run = TaskRun(task=self.task_slug, input=text, input_source=source, tags=sorted(set(tags))).with_id()
        self.project.write_record(run)
        self.summary.created.append(run)  # type: ignore[arg-type]


async def generate_inputs_async(
    project: Project,
    task: str,
    run_config: str,
    *,
    topics: Sequence[str] = (),
    subtopics: int = 0,
    depth: int = 1,
    n: int = 10,
    tags: Sequence[str] = (),
    concurrency: int = 4,
    cache: str | None = None,
    provider: Provider | None = None,
    progress: bool | None = None,
    summary: GenerateSummary | None = None,
) -> GenerateSummary:
    """Generate inputs: start from `topics` (or the task itself), expand each into `subtopics` subtopics `depth`
    times (no expansion when `subtopics` is 0), then ask `n` inputs per topic path."""
    if n < 1 or concurrency < 1 or subtopics < 0 or depth < 1:
        raise UsageError(
            "-n and --concurrency must be at least 1, --subtopics at least 0, --depth at least 1"
        )
    task = project.task_slug(task)
    tags = check_tags(tags)
    config = get_run_config(project, task, run_config)
    own = provider is None
    provider = provider or get_provider(config.provider, project, cache=cache)
    summary = summary or GenerateSummary()
    gen = _Generator(
        project,
        task,
        project.task(task),
        run_config,
        config,
        provider,
        json_schema_support(config.provider) if own else True,
        summary,
    )
    start = time.perf_counter()

    async def each(items: list[Any], work: Any, label: str) -> None:
        await run_batch(
            items,
            work,
            outcome=summary,
            tally=lambda _: summary,
            concurrency=concurrency,
            label=f"{task}: {label}",
            progress=progress,
        )

    async def expand(job: tuple[list[str], list[str]]) -> None:
        kids, path = job
        kids += await gen.subtopics(path, subtopics)

    try:
        paths: list[list[str]] = [[t] for t in topics] or [[]]
        for _ in range(depth if subtopics else 0):
            jobs: list[tuple[list[str], list[str]]] = [([], p) for p in paths]
            await each(jobs, expand, "topics")
            paths = [p + [c] for kids, p in jobs for c in kids]
        summary.topics = paths
        seen = {normalized(r.input) for r in project.runs(task).values()}

        async def leaf(path: list[str]) -> None:
            for text in await gen.inputs(path, n):
                gen.store(text, path, seen, tags)

        await each(paths, leaf, "generating inputs")
    finally:
        summary.seconds = time.perf_counter() - start
        if own:
            await provider.aclose()
    return summary


def generate_inputs(project: Project, task: str, run_config: str, **options: Any) -> GenerateSummary:
    """`generate_inputs_async` from synchronous code. Ctrl-C returns the summary with `interrupted` set."""
    summary = GenerateSummary()
    return run_sync(generate_inputs_async(project, task, run_config, summary=summary, **options), summary)
