"""`plan_import`: a Kiln project mapped onto kilngit records, task by task, without writing anything."""

from __future__ import annotations

from kilngit import layout
from kilngit.kiln import plan_defs
from kilngit.kiln.names import SlugAllocator
from kilngit.kiln.plan import ImportPlan, TaskContext
from kilngit.kiln.plan_evals import plan_evals
from kilngit.kiln.plan_runs import plan_runs
from kilngit.kiln.reader import KilnFolder
from kilngit.project import Project
from kilngit.records import ProjectManifest


def plan_import(folder: KilnFolder, target: Project | None) -> ImportPlan:
    """Map a Kiln project onto kilngit records (`target`: the project imported into, when it exists)."""
    project = folder.project.data if folder.project else {}
    plan = ImportPlan(
        ProjectManifest(
            name=str(project.get("name") or folder.root.name),
            description=project.get("description") or None,
            kiln_id=project.get("id"),
        )
    )
    task_slugs = SlugAllocator({s: t.kiln_id for s, t in target.tasks().items()} if target else {})
    for kiln_task in folder.tasks:
        ctx = TaskContext(kiln_task, str(project.get("id") or ""), target, plan)
        task = ctx.attempt(kiln_task.record, plan_defs.task_definition, kiln_task)
        if task is None:
            ctx.error(
                kiln_task.record.path,
                "the task and everything under it were not imported",
                "fix the task file and import again",
            )
            continue
        ctx.start(task_slugs.take(task.name, kiln_task.record.id))
        plan_defs.plan_requirements(ctx)
        plan_defs.plan_definitions(ctx)
        plan_runs(ctx)
        plan_evals(ctx)
        plan_defs.plan_splits_and_finetunes(ctx)
        ctx.define(
            layout.task_file(ctx.slug),
            task.model_copy(update={"requirements": list(ctx.requirements.values())}),
        )
    return plan
