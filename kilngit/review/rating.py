"""Rating a run: one person's change to their own annotation file, checked against the task.

    change = RatingChange(overall=parse_overall("pass"), requirements={"correct_command": "pass"})
    annotation = rate(project, "3fa2", change, rater="alice@example.com")

Only the rater's own file (`layout.annotation_file(task, rater, run)`) is ever written, so two people rating
the same run never touch the same file. An update merges into what the rater said before; an annotation left
with nothing in it is deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kilngit import layout
from kilngit.errors import AmbiguousIdError, InvalidRecordError, NotFoundError, UsageError, did_you_mean
from kilngit.identity import current_person
from kilngit.project import Project
from kilngit.ratings import NAMED_VALUES, RATING_VALUES, named_values, value_label
from kilngit.records import Annotation, Rating, Task, TaskRun
from kilngit.records.annotation import utc_stamp

#: Rating words and the (type, value) they mean for the overall rating.
OVERALL_WORDS: dict[str, tuple[str, float]] = {
    word: ("pass_fail" if value in RATING_VALUES["pass_fail"] else "pass_fail_critical", value)
    for word, value in NAMED_VALUES.items()
}
_STARS = re.compile(r"([1-5])(\s*(\*|stars?))?")


@dataclass(frozen=True)
class RatingChange:
    """What one rater wants to change in their annotation of one run. Unset fields are left as they were."""

    overall: Rating | None = None
    label: str | None = None
    """Overall rating of a task rated by label: the class (checked against the task's labels)."""
    requirements: dict[str, str] = field(default_factory=dict)
    """Requirement name -> value as typed: pass, fail, critical, 1..5 stars, or a class for label ones."""
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    note: str | None = None
    """New note; the empty string removes the note."""
    repair: str | None = None
    """New repaired output; the empty string removes it."""
    reference: str | None = None
    """New reference answer (free text or JSON text); the empty string removes it."""
    clear: bool = False
    """Start from an empty annotation (drop everything this rater said about the run) before the rest."""

    @property
    def is_empty(self) -> bool:
        return not (
            self.overall
            or self.label
            or self.requirements
            or self.tags_add
            or self.tags_remove
            or self.clear
            or self.note is not None
            or self.repair is not None
            or self.reference is not None
        )


def parse_overall(word: str) -> Rating:
    """An overall rating from a word: pass / fail (pass_fail), critical (pass_fail_critical), or 1..5 stars."""
    text = word.strip().lower()
    if text in OVERALL_WORDS:
        rating_type, value = OVERALL_WORDS[text]
        return Rating(type=rating_type, value=value)  # type: ignore[arg-type]
    stars = _STARS.fullmatch(text)
    if stars:
        return Rating(type="five_star", value=float(stars.group(1)))
    raise UsageError(f"cannot read rating {word!r}", "use pass, fail, critical or 1..5 (stars)")


def parse_requirement_rating(task: Task, name: str, text: str) -> Rating:
    """The rating `text` gives requirement `name`, checked against the requirement's rating type."""
    req = task.requirement(name)
    if req is None:
        known = ", ".join(r.name for r in task.requirements) or "none"
        raise UsageError(
            f"task {task.name!r} has no requirement {name!r}",
            f"{did_you_mean(name, [r.name for r in task.requirements])}requirements: {known}",
        )
    word = text.strip().lower()
    value: float | None = None
    if req.type == "label":
        return label_rating(task, name, text.strip())
    if req.type == "five_star":
        stars = _STARS.fullmatch(word)
        value = float(stars.group(1)) if stars else None
        allowed = "1, 2, 3, 4 or 5 (stars)"
    else:
        named = named_values(req.type)
        value = named.get(word)
        allowed = ", ".join(named)
    if value is None:
        raise UsageError(
            f"requirement {name!r} is rated {req.type}: {text!r} is not a valid value", f"use {allowed}"
        )
    return Rating(type=req.type, value=value)


def label_rating(task: Task, name: str, label: str) -> Rating:
    """A label rating of "overall" or a requirement, checked against the classes the task declares."""
    bad = task.rating_problem(name, "label", label)
    if bad:
        raise UsageError(bad[0], bad[1])
    return Rating(type="label", label=label)


def check_overall(task: Task, rating: Rating) -> Rating:
    """`rating` when it has the task's overall rating type (any type when the task declares none)."""
    bad = task.rating_problem("overall", rating.type, rating.label)
    if bad:
        raise UsageError(f"task {task.name!r}: {bad[0]}", bad[1])
    return rating


def parse_requirement_arg(spec: str) -> tuple[str, str]:
    """Split `NAME=VALUE` as given to `--requirement`."""
    name, sep, value = spec.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise UsageError(
            f"cannot read requirement rating {spec!r}", "write NAME=VALUE, e.g. correct_command=pass"
        )
    return name.strip(), value.strip()


def check_tag(tag: str) -> str:
    """A tag as given, refused when empty or containing spaces."""
    if not tag or any(c.isspace() for c in tag):
        raise UsageError(f"invalid tag {tag!r}", "tags are non-empty and contain no spaces")
    return tag


def find_run(project: Project, prefix: str, task: str | None = None) -> TaskRun:
    """The run whose ID starts with `prefix`, in `task` or, when None, in any task (must be unambiguous)."""
    tasks = [project.task_slug(task)] if task else list(project.tasks())
    if len(tasks) == 1:
        return project.resolve_run(tasks[0], prefix)
    if not tasks:
        raise NotFoundError("this project has no task yet", "create one: kilngit task new SLUG")
    matches: list[TaskRun] = []
    errors: list[NotFoundError] = []
    for slug in tasks:
        try:
            matches.append(project.resolve_run(slug, prefix))
        except AmbiguousIdError:
            raise
        except NotFoundError as e:
            errors.append(e)
    if len(matches) > 1:
        raise AmbiguousIdError(
            f"run ID prefix {prefix!r} matches runs of several tasks",
            "candidates: " + ", ".join(f"{r.task}/{r.id}" for r in matches) + "; pass --task",
        )
    if matches:
        return matches[0]
    if len({e.message for e in errors}) == 1 and "too short" in errors[0].message:
        raise errors[0]
    raise NotFoundError(
        f"no run of any task has an ID starting with {prefix!r}",
        "check the ID (`kilngit status` lists tasks), or pass --task",
    )


def load_own_annotation(project: Project, task: str, rater: str, run_id: str) -> Annotation | None:
    """The rater's current annotation of a run, or None. A broken file is an error, never overwritten."""
    relpath = layout.annotation_file(task, rater, run_id)
    if not (project.root / relpath).is_file():
        return None
    parsed = project.read(relpath)
    errors = [p for p in parsed.problems if p.severity == "error"]
    if parsed.record is None or errors:
        p = errors[0]
        raise InvalidRecordError(
            p.path,
            p.message,
            p.pointer,
            f"{p.fix}; your annotation file must be fixed before it can be updated",
        )
    assert isinstance(parsed.record, Annotation)
    return parsed.record


def apply_change(
    project: Project,
    run: TaskRun,
    rater: str,
    change: RatingChange,
    existing: Annotation | None,
    rated_at: str | None = None,
    seconds_on_item: float | None = None,
) -> Annotation:
    """The annotation that results from applying `change` to `existing` (pure: nothing is written).

    It is stamped `rated_at` (default: now, UTC) and, from the labeling queue, `seconds_on_item`."""
    task = project.task(run.task)
    base = None if change.clear else existing
    requirements = dict(base.requirements) if base else {}
    for name, text in change.requirements.items():
        requirements[name] = parse_requirement_rating(task, name, text)
    added = set(base.tags_added) if base else set()
    removed = set(base.tags_removed) if base else set()
    state = project.states(run.task).get(run.id)
    mine = layout.rater_dir(rater)
    others = [a for a in state.annotations if layout.rater_dir(a.rater) != mine] if state else []
    elsewhere = set(run.tags).union(*(a.tags_added for a in others))
    for tag in map(check_tag, change.tags_add):
        removed.discard(tag)
        added.add(tag)
    for tag in map(check_tag, change.tags_remove):
        added.discard(tag)
        if tag in elsewhere:  # still given by the run or another rater: record the removal (a removal wins)
            removed.add(tag)
    note = (base.note if base else None) if change.note is None else (change.note or None)
    repair = (base.repaired_output if base else None) if change.repair is None else (change.repair or None)
    reference = (base.reference if base else None) if change.reference is None else (change.reference or None)
    overall = label_rating(task, "overall", change.label) if change.label else change.overall
    return Annotation(
        task=run.task,
        run=run.id,
        rater=existing.rater if existing else rater,
        rating=check_overall(task, overall) if overall else (base.rating if base else None),
        requirements=dict(sorted(requirements.items())),
        tags_added=sorted(added),
        tags_removed=sorted(removed),
        note=note,
        repaired_output=repair,
        reference=reference,
        kiln_id=base.kiln_id if base else None,
        rated_at=rated_at or utc_stamp(),
        seconds_on_item=None if seconds_on_item is None else round(max(seconds_on_item, 0.0), 1),
    )


def save_annotation(
    project: Project, task: str, rater: str, run_id: str, annotation: Annotation | None
) -> None:
    """Write the rater's annotation atomically, or delete the file when it is None or says nothing."""
    if annotation is None or annotation.is_empty:
        project.delete(layout.annotation_file(task, rater, run_id))
    else:
        project.write_record(annotation)


def rate(
    project: Project, run_prefix: str, change: RatingChange, rater: str | None = None, task: str | None = None
) -> Annotation:
    """Apply `change` to the rater's annotation of the run `run_prefix` names, and save it.

    The rater is `rater`, else $KILNGIT_AS, else git's user.email. Returns the annotation now on disk (an
    empty one, whose file was deleted, when nothing is left)."""
    if change.is_empty:
        raise UsageError(
            "nothing to change",
            "give a rating (--pass, --fail, --critical, --stars N, --label C), "
            "--requirement NAME=VALUE, --tag, --untag, --note, --repair, "
            "--reference or --clear",
        )
    person = current_person(project.root, rater)
    run = find_run(project, run_prefix, task)
    if run.output is None and (change.overall or change.label or change.requirements):
        raise UsageError(
            f"run {run.id} has no output to rate",
            "run the task on it first (`kilngit run task`), or only tag it",
        )
    existing = load_own_annotation(project, run.task, person, run.id)
    annotation = apply_change(project, run, person, change, existing)
    save_annotation(project, run.task, person, run.id, annotation)
    return annotation


def rating_word(rating: Rating | None) -> str:
    """A rating as people say it: pass, fail, critical, 4*, or the class of a label ("-" for none)."""
    if rating is None:
        return "-"
    if rating.type == "label":
        return rating.label or "-"
    return "-" if rating.value is None else value_label(rating.value, rating.type)


def describe_annotation(annotation: Annotation | None) -> str:
    """One line saying what an annotation holds, e.g. `overall pass; correct_command fail; tags +golden`."""
    if annotation is None or annotation.is_empty:
        return "nothing (no annotation)"
    parts = []
    if annotation.rating:
        parts.append(f"overall {rating_word(annotation.rating)}")
    parts += [f"{name} {rating_word(r)}" for name, r in annotation.requirements.items()]
    tags = [f"+{t}" for t in annotation.tags_added] + [f"-{t}" for t in annotation.tags_removed]
    if tags:
        parts.append("tags " + " ".join(tags))
    if annotation.note:
        parts.append(f"note {annotation.note!r}")
    if annotation.repaired_output:
        parts.append("repaired output")
    if annotation.reference:
        parts.append("reference answer")
    return "; ".join(parts)
