"""What the humans say is right for each input: the consensus class (label tasks) and the reference answer.

A label ("the right category is billing") and a reference answer belong to the input, not to one model's
output: raters give them on whichever run they look at, and every run of the same input is judged against
them. For each input the truth is taken from the runs with that input text: the consensus overall label of
each such run (runs whose labels disagree leave the input without a label), and the one distinct reference
(or, failing that, the one distinct repaired output).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kilngit.project import Project
from kilngit.state import RunState

__all__ = ["Truth", "human_truth", "truth_of"]


@dataclass(frozen=True)
class Truth:
    """The human consensus for one input."""

    label: str | None = None
    """The class the raters chose for the input (None: not labelled, or the raters disagree)."""
    reference: str | None = None
    """The raters' reference answer (a repaired output when nobody gave a reference)."""
    disputed: bool = False


def truth_of(states: list[RunState]) -> Truth:
    """The truth of one input from the runs that share it."""
    labels = {s.rating.label for s in states if s.rating is not None and s.rating.type == "label"}
    disputed = any(
        s.rating is not None and s.rating.type == "label" and s.rating.label is None for s in states
    )
    references = {s.reference for s in states if s.reference}
    if not references:
        references = {s.repaired_output for s in states if s.repaired_output}
    label = next(iter(labels)) if len(labels) == 1 and not disputed else None
    return Truth(
        label,
        next(iter(references)) if len(references) == 1 else None,
        disputed or len(labels) > 1 or len(references) > 1,
    )


def human_truth(project: Project, task: str) -> dict[str, Truth]:
    """Input text -> the human consensus for it, for every input some rater labelled or gave a reference for."""
    by_input: dict[str, list[RunState]] = defaultdict(list)
    for state in project.states(task).values():
        if state.annotations:
            by_input[state.run.input].append(state)
    out = {text: truth_of(states) for text, states in by_input.items()}
    return {text: t for text, t in out.items() if t.label or t.reference or t.disputed}
