"""A small classification task of our own for tests: route support tickets to billing / bug / feature_request /
other. `make_tickets(project)` adds the task, a few runs from two run configs and two raters' labels."""

from __future__ import annotations

from kilngit import layout
from kilngit.authoring import new_task
from kilngit.project import Project
from kilngit.records import Annotation, Rating, Requirement, RunConfig, Source, TaskRun, Usage

TASK = "tickets"
LABELS = ["billing", "bug", "feature_request", "other"]
HUMAN = Source(type="human", created_by="author@example.com")

#: (ticket, the right class, what config `sharp` says, what config `sloppy` says)
TICKETS = [
    ("I was charged twice for my March invoice.", "billing", "billing", "billing"),
    ("The export button does nothing when I click it.", "bug", "bug", "bug"),
    ("Could you add a dark mode to the dashboard?", "feature_request", "feature_request", "bug"),
    ("My card was declined but the plan still shows as paid.", "billing", "billing", "bug"),
    ("The app crashes every time I open settings on Android.", "bug", "bug", "bug"),
    ("Please support exporting reports as CSV.", "feature_request", "feature_request", "feature_request"),
    ("Where is your office located?", "other", "other", "feature_request"),
    ("Refund request for an accidental annual upgrade.", "billing", "billing", "other"),
]


def make_tickets(
    project: Project,
    *,
    raters: tuple[str, ...] = ("ana@example.com", "ben@example.com"),
    tags: tuple[str, ...] = ("eval_set", "golden"),
) -> dict[str, list[TaskRun]]:
    """Add task `tickets` (overall rating by label, plus a pass/fail `polite` requirement), the runs of two
    configs (`sharp`, always right; `sloppy`, often wrong) and every rater's label (the right class) with a
    reference answer. Returns the runs by config."""
    new_task(
        project,
        TASK,
        "Classify the support ticket: answer with one class name.",
        "Ticket routing",
        [Requirement(name="polite", instruction="The answer is a bare class name, no chatter.")],
        rating_type="label",
        labels=LABELS,
    )
    runs: dict[str, list[TaskRun]] = {"sharp": [], "sloppy": []}
    for config in runs:
        project.write_definition(
            layout.run_config_file(TASK, config),
            RunConfig(provider="mock", model=f"{config}-model", prompt="default"),
        )
    for text, truth, sharp, sloppy in TICKETS:
        for config, answer in (("sharp", sharp), ("sloppy", sloppy)):
            run = TaskRun(
                task=TASK,
                input=text,
                input_source=HUMAN,
                output=answer,
                output_source=Source(
                    type="synthetic", provider="mock", model=f"{config}-model", run_config=config
                ),
                usage=Usage(cost=0.002 if config == "sharp" else 0.0005, latency_ms=300.0),
                tags=sorted(tags),
            ).with_id()
            project.write_record(run)
            runs[config].append(run)  # type: ignore[arg-type]
            for rater in raters:
                project.write_record(
                    Annotation(
                        task=TASK,
                        run=run.id,
                        rater=rater,
                        rating=Rating(type="label", label=truth),
                        requirements={"polite": Rating(type="pass_fail", value=1.0)},
                        reference=truth,
                    )
                )
    return runs
