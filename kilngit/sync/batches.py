"""The watcher's batch job: finishing the runs and judge results of batches a command stopped waiting for.

`run task --batch` and `run eval --batch` wait for their batches; stopped meanwhile (Ctrl-C, a closed laptop),
they leave them running at the provider. Each job record keeps the ID of its command's origin (what the
command needs to write its results: task, run config or eval, inputs, samples; `save_origin`). While such a
command's batches are open, the watcher has a job `batch:<origin>`, which:

* polls each of that command's *created* batches once (a job not created yet is left to the command, which
  may still be creating it: two creators could submit twice);
* records the answers of the batches that ended, and writes the runs (or judge results) whose answers are
  recorded, through the same runner as the command, so they are the records the command writes (the second
  call of a two-step chain of thought is asked online, as the command does);
* sends nothing else: requests a batch did not answer are left to the command's next run (a next batch or
  online, as its settings say).

The job ends after one visit; the job pool brings it back after its cooldown while a batch is open. It runs
under the same job locks as the commands (`kilngit.joblock`): while the command itself still waits for its
batches, the job leaves them to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kilngit.joblock import busy
from kilngit.project import Project
from kilngit.providers.batch_jobs import load_origin, open_jobs

if TYPE_CHECKING:
    from kilngit.evals.runner import EvalRunSummary
    from kilngit.runner.run_task import RunSummary


@dataclass(frozen=True)
class Followed:
    """A command whose created batches are still open."""

    origin: str
    spec: dict[str, Any]
    batches: int

    @property
    def what(self) -> str:
        s = self.spec
        name = s.get("run_config") if s.get("command") == "run task" else s.get("eval")
        return f"{s.get('command')} {s.get('task')}/{name}"


def followed(project: Project) -> list[Followed]:
    """The commands with created batches still open, oldest first."""
    counts: dict[str, int] = {}
    for job in open_jobs(project):
        origin = job.data.get("origin")
        if origin and job.data.get("batch_id"):
            counts[origin] = counts.get(origin, 0) + 1
    found = []
    for origin, n in counts.items():
        spec = load_origin(project, origin)
        if spec and spec.get("command") in ("run task", "run eval"):
            found.append(Followed(origin, spec, n))
    return found


def follow_batches(project: Project, origin: str) -> str:
    """One visit (see the module docstring); returns a one-line summary."""
    spec = load_origin(project, origin)
    if spec is None:
        return f"batch origin {origin}: gone"
    f = Followed(origin, spec, 0)
    if spec["command"] == "run task":
        lock = f"run task {spec['task']}/{spec['run_config']}"
    else:
        lock = f"run eval {spec['task']}/{spec['eval']}/{spec['judges'][0]}"
    if busy(project.root, lock):
        return f"batches of {f.what}: its command is waiting for them"
    summary: RunSummary | EvalRunSummary
    if spec["command"] == "run task":
        from kilngit.runner.batch_step import origin_inputs
        from kilngit.runner.run_task import run_inputs

        summary = run_inputs(
            project,
            spec["task"],
            spec["run_config"],
            origin_inputs(spec),
            samples=spec["samples"],
            tags=spec["tags"],
            follow=origin,
            progress=False,
        )
        made = f"{summary.done} run(s) written"
    else:
        from kilngit.evals.runner import run_eval

        summary = run_eval(
            project,
            spec["task"],
            spec["eval"],
            judges=spec["judges"],
            samples=spec["samples"],
            retry_errors=spec["retry_errors"],
            follow=origin,
            progress=False,
        )
        made = f"{sum(t.scored for t in summary.judges.values())} judgement(s) written"
    if summary.interrupted:
        summary.check()  # raises Interrupted
    if summary.fatal:
        raise summary.fatal
    still = summary.batch.open if summary.batch else 0
    return f"batches of {f.what}: {made}" + (f", {still} batch(es) still running" if still else ", done")
