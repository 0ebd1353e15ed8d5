"""Planning an import: every Kiln record mapped to the kilngit record it becomes, before anything is written.

Planning only reads (the Kiln folder, and the target project to keep its slugs), so `--strict` can refuse a
source with problems without touching the target. This module holds the plan and the per-task context the
planners (`plan_defs`, `plan_runs`, `plan_evals`) fill; `kilngit.kiln.planner.plan_import` runs them and
`kilngit.kiln.importer` applies the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kilngit import layout
from kilngit.kiln.mapping import Unmappable, Warn
from kilngit.kiln.names import SlugAllocator
from kilngit.kiln.reader import KilnRecord, KilnTask
from kilngit.load import Problem
from kilngit.project import Project
from kilngit.records import Definition, ProjectManifest, Prompt, Record, Requirement, RunConfig, TaskRun


@dataclass
class ImportPlan:
    """What an import writes: definitions (YAML, by path) and machine/owned records (path from identity)."""

    manifest: ProjectManifest
    definitions: list[tuple[str, Definition]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class TaskContext:
    """The state of importing one Kiln task: slugs given so far, Kiln ID -> kilngit name maps, problems."""

    def __init__(self, kiln: KilnTask, project_id: str, target: Project | None, plan: ImportPlan) -> None:
        self.kiln, self.project_id, self.target, self.plan = kiln, project_id, target, plan
        self.kiln_task_id = kiln.record.id
        self.slug = ""
        #: Kiln prompt ID (saved ID, builder name, `task_run_config::...`, `fine_tune_prompt::...`) -> slug.
        self.prompts: dict[str, str] = {}
        self.run_configs: dict[str, tuple[str, RunConfig]] = {}
        #: Kiln fine-tune ID -> (provider, fine-tuned model ID or None).
        self.finetune_models: dict[str, tuple[str, str | None]] = {}
        self.finetunes: dict[str, str] = {}
        self.splits: dict[str, tuple[str, dict[str, str]]] = {}
        #: Kiln task run ID -> kilngit run.
        self.runs: dict[str, TaskRun] = {}
        self.requirements: dict[str, Requirement] = {}
        #: Kiln requirement key (requirement ID or `named::Score name`) -> requirement slug.
        self.requirement_keys: dict[str, str] = {}

    def start(self, slug: str) -> None:
        """Import under task `slug`: slugs are allocated around the target's definitions of that task."""
        self.slug = slug
        self.existing = ExistingSlugs(self.target, slug)
        self.prompt_slugs = SlugAllocator(self.existing.of("prompts"))
        self.run_config_slugs = SlugAllocator(self.existing.of("run_configs"))
        self.eval_slugs = SlugAllocator(self.existing.of("evals"))
        self.split_slugs = SlugAllocator(self.existing.of("splits"))
        self.finetune_slugs = SlugAllocator(self.existing.of("finetunes"))

    # ---- problems ------------------------------------------------------------------------------------

    def error(self, path: str, message: str, fix: str) -> None:
        self.plan.problems.append(Problem(path, message, fix))

    def warner(self, path: str) -> Warn:
        def warn(message: str) -> None:
            self.plan.problems.append(
                Problem(path, message, "nothing to do (the import kept the rest)", severity="warning")
            )

        return warn

    def attempt(self, rec: KilnRecord, build: Callable[..., Any], *args: Any) -> Any:
        """Return `build(*args)`; on a value kilngit cannot hold, report it against the record's file and
        return None."""
        try:
            return build(*args)
        except Unmappable as e:
            self.error(rec.path, str(e), e.fix)
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            self.error(
                rec.path,
                f"cannot be imported: {where + ': ' if where else ''}{err['msg']}",
                "fix the value in Kiln and import again",
            )
        except (KeyError, TypeError, AttributeError) as e:
            self.error(
                rec.path,
                f"malformed Kiln record ({type(e).__name__}: {e})",
                "restore the file from a backup or re-save it in Kiln",
            )
        return None

    # ---- output --------------------------------------------------------------------------------------

    def define(self, relpath: str, record: Definition) -> None:
        self.plan.definitions.append((relpath, record))

    def add(self, record: Record) -> Record:
        self.plan.records.append(record)
        return record

    def add_prompt(self, name: str, prompt: Prompt) -> str:
        """Plan a prompt definition under a fresh slug; returns the slug."""
        assert prompt.kiln_id is not None
        slug = self.prompt_slugs.take(name, prompt.kiln_id)
        self.prompts[prompt.kiln_id] = slug
        self.define(layout.prompt_file(self.slug, slug), prompt)
        return slug


class ExistingSlugs:
    """The target project's definitions of one task (slug -> kiln_id), so a re-import keeps its slugs."""

    def __init__(self, target: Project | None, task: str) -> None:
        self.target, self.task = target, task

    def of(self, kind: str, eval_slug: str | None = None) -> dict[str, str | None]:
        """`kind` is a Project reader: prompts, run_configs, evals, splits, finetunes or judges (of `eval_slug`)."""
        if self.target is None or not (self.target.root / layout.task_file(self.task)).is_file():
            return {}
        args = (self.task, eval_slug) if kind == "judges" else (self.task,)
        return {slug: rec.kiln_id for slug, rec in getattr(self.target, kind)(*args).items()}
