"""The inputs a run answers: typed on the command line, read from a JSONL file, or taken from existing runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kilngit._io import ReadError, load_json
from kilngit.errors import UsageError
from kilngit.identity import current_person
from kilngit.project import Project
from kilngit.records import Source, Task
from kilngit.runner.json_check import schema_errors

MAX_LINE_BYTES = 4 << 20  # one input: a long document, not a data set
MAX_INPUTS_BYTES = 512 << 20


@dataclass(frozen=True)
class RunInput:
    """One input to answer, with where it came from."""

    text: str
    source: Source
    tags: tuple[str, ...] = ()
    """Tags for the runs made from it."""
    parent: str | None = None
    """The existing run whose input this is, if any."""


def check_tags(tags: Sequence[str], where: str = "--tag") -> tuple[str, ...]:
    """Tags as records keep them (sorted, unique), refusing empty tags and tags with spaces."""
    for tag in tags:
        if not isinstance(tag, str) or not tag or any(c.isspace() for c in tag):
            raise UsageError(f"{where}: invalid tag {tag!r}", "tags are non-empty words without spaces")
    return tuple(sorted(set(tags)))


def input_text(task: Task, value: Any, where: str) -> str:
    """The text form of an input value (JSON text for structured inputs), checked against the input schema."""
    if task.input_schema is None:
        if not isinstance(value, str):
            raise UsageError(
                f"{where}: the task takes text inputs, not {type(value).__name__}",
                "give the input as a string",
            )
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError(
                f"{where}: the task takes JSON inputs and this is not JSON",
                "give a JSON value matching the task's input_schema",
            ) from None
    problems = schema_errors(value, task.input_schema)
    if problems:
        raise UsageError(
            f"{where}: the input does not match the task's input_schema: {'; '.join(problems)}",
            "fix the input",
        )
    return json.dumps(value, ensure_ascii=False)


def typed_input(project: Project, task: str, text: str, author: str | None = None) -> RunInput:
    """An input typed by the person running the command."""
    value = input_text(project.task(task), text, "--input")
    return RunInput(value, Source(type="human", created_by=current_person(project.root, author)))


def file_inputs(project: Project, task: str, path: Path) -> list[RunInput]:
    """Inputs from a JSONL file: each line a JSON string, or an object with `input` and optional `tags`."""
    definition = project.task(task)
    source = Source(type="file_import", file=path.name)
    out = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = load_json(line)
        except ReadError as e:
            raise UsageError(
                f"{where}: not valid JSON ({e})", 'write one JSON value per line, e.g. {"input": "..."}'
            ) from None
        tags: tuple[str, ...] = ()
        if isinstance(item, dict) and "input" in item:
            given = item.get("tags") or []
            if not isinstance(given, list):
                raise UsageError(f"{where}: tags must be a list of words", 'e.g. "tags": ["eval_set"]')
            tags = check_tags(given, where)
            item = item["input"]
        elif isinstance(item, dict) and definition.input_schema is None:
            raise UsageError(f"{where}: an object line needs an `input` field", 'write {"input": "..."}')
        out.append(RunInput(input_text(definition, item, where), source, tags))
    return out


def read_lines(path: Path, max_line: int = MAX_LINE_BYTES, max_total: int = MAX_INPUTS_BYTES) -> list[str]:
    """The lines of a UTF-8 text file or pipe, read with bounds: a line over `max_line` bytes or more than
    `max_total` in all is refused as soon as it is seen (so `/dev/zero` or an endless pipe cannot hang)."""
    lines: list[str] = []
    total = 0
    try:
        with open(path, "rb") as f:
            while line := f.readline(max_line + 1):
                total += len(line)
                if len(line) > max_line:
                    raise UsageError(
                        f"{path}:{len(lines) + 1}: line longer than {max_line:,} bytes",
                        "give one input per line (JSONL), each under that size",
                    )
                if total > max_total:
                    raise UsageError(
                        f"{path}: more than {max_total:,} bytes of inputs",
                        "split the inputs into several files and run them one after another",
                    )
                lines.append(line.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {path}: {e}", "give a UTF-8 JSONL file") from e
    return lines


def filter_inputs(project: Project, task: str, filter_text: str) -> list[RunInput]:
    """The inputs of the runs matching a run filter. Each new run points at the run it answered and carries
    that run's current tags (e.g. a generated input tagged eval_set gives answers tagged eval_set)."""
    return [
        RunInput(s.run.input, s.run.input_source, tuple(sorted(s.tags)), s.run.id)
        for s in project.select(task, filter_text)
    ]
