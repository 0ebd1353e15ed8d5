"""Which runs an eval is about: its eval set, its golden set, the eval inputs, and run-config groups.

* The **eval set** is the runs its `eval_set` filter chooses; their distinct inputs are the **eval inputs**.
  Comparing run methods means running each run config over the eval inputs and judging those runs.
* The **golden set** is the runs its `golden_set` filter chooses; those with human ratings calibrate judges.
* A run's **group** on the scoreboard is the run config that produced its output (`output_source.run_config`),
  else `provider/model` for other model outputs, else the source type (`human`, `file_import`).
"""

from __future__ import annotations

from dataclasses import dataclass

from kilngit.project import Project
from kilngit.records import Eval, TaskRun
from kilngit.state import RunState


@dataclass(frozen=True)
class EvalItems:
    eval_set: list[RunState]
    golden: list[RunState]

    @property
    def inputs(self) -> list[str]:
        """The distinct eval inputs, in the order of the eval set (run ID order)."""
        return list(dict.fromkeys(s.run.input for s in self.eval_set))


def eval_items(project: Project, task: str, ev: Eval) -> EvalItems:
    """The eval set and golden set of an eval, in run ID order."""
    return EvalItems(project.select(task, ev.eval_set), project.select(task, ev.golden_set))


def runs_on_inputs(project: Project, task: str, inputs: list[str]) -> list[RunState]:
    """Every run of the task whose input is one of `inputs`, in run ID order."""
    wanted = set(inputs)
    return [s for _, s in sorted(project.states(task).items()) if s.run.input in wanted]


def group_of(run: TaskRun) -> str:
    """The scoreboard group of a run: its run config, else provider/model, else the output's source type."""
    source = run.output_source
    if source is None:
        return "unknown"
    if source.run_config:
        return source.run_config
    if source.type == "synthetic" and source.model:
        return f"{source.provider}/{source.model}" if source.provider else source.model
    return source.type


def judgeable(states: list[RunState]) -> list[RunState]:
    """The runs that have an output to judge, without duplicates, in run ID order."""
    seen: dict[str, RunState] = {}
    for state in states:
        if state.run.output is not None:
            seen.setdefault(state.id, state)
    return [seen[k] for k in sorted(seen)]
