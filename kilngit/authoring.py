"""Creating records by hand: tasks and human-made runs, so a project can be built without any model."""

from __future__ import annotations

from kilngit import layout
from kilngit.errors import KilngitError, UsageError
from kilngit.identity import current_person
from kilngit.project import Project
from kilngit.records import Prompt, Requirement, Source, Task, TaskRun, is_slug


def new_task(
    project: Project,
    slug: str,
    instruction: str,
    name: str | None = None,
    requirements: list[Requirement] | None = None,
    rating_type: str | None = None,
    labels: list[str] | None = None,
) -> Task:
    """Create `tasks/SLUG/task.yaml` and a `default` prompt. `rating_type` fixes the type of overall ratings
    (with `labels`, the classes, for type label)."""
    if not is_slug(slug):
        raise UsageError(f"{slug!r} is not a valid task slug", "use lowercase letters, digits, '-' and '_'")
    if (project.root / layout.task_file(slug)).exists():
        raise KilngitError(f"task {slug!r} already exists", f"edit {layout.task_file(slug)} instead")
    try:
        task = Task(
            name=name or slug,
            instruction=instruction,
            requirements=requirements or [],
            rating_type=rating_type,  # type: ignore[arg-type]
            labels=labels or [],
        )
    except ValueError as e:
        raise UsageError(
            f"invalid task: {_first_error(e)}", "label tasks need --labels A,B,... (two or more)"
        ) from None
    project.write_definition(layout.task_file(slug), task)
    project.write_definition(
        layout.prompt_file(slug, "default"), Prompt(description="The task's instruction.")
    )
    return task


def add_run(
    project: Project,
    task: str,
    input: str,
    output: str | None = None,
    tags: list[str] | None = None,
    author: str | None = None,
) -> TaskRun:
    """Add a run typed by a person (input only, or input and output). Returns the run with its ID."""
    task = project.task_slug(task)
    person = current_person(project.root, author)
    source = Source(type="human", created_by=person)
    for tag in tags or []:
        if not tag or any(c.isspace() for c in tag):
            raise UsageError(f"invalid tag {tag!r}", "tags are non-empty and contain no spaces")
    run = TaskRun(
        task=task,
        input=input,
        input_source=source,
        output=output,
        output_source=source if output is not None else None,
        tags=sorted(set(tags or [])),
    ).with_id()
    project.write_record(run)
    return run  # type: ignore[return-value]


def parse_requirement(spec: str) -> Requirement:
    """Parse `NAME[:TYPE]=INSTRUCTION` as given on the command line; TYPE `label(a|b|c)` lists the classes."""
    head, sep, instruction = spec.partition("=")
    name, _, rating_type = head.partition(":")
    if not sep or not name or not instruction:
        raise UsageError(f"cannot read requirement {spec!r}", "write NAME[:TYPE]=INSTRUCTION")
    rating_type, _, classes = rating_type.strip().partition("(")
    labels = [c.strip() for c in classes.rstrip(")").split("|") if c.strip()]
    try:
        return Requirement(
            name=name.strip(),
            type=(rating_type or "pass_fail"),  # type: ignore[arg-type]
            labels=labels,
            instruction=instruction.strip(),
        )
    except ValueError as e:
        raise UsageError(
            f"invalid requirement {spec!r}: {_first_error(e)}",
            "types: pass_fail, pass_fail_critical, five_star, label(A|B|...)",
        ) from None


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", e)).removeprefix("Value error, ")
    return str(e)
