"""Label scores: which classes a score has, reading a class from a judge, and how well classes agree.

A `label` score (type `label` in eval.yaml) is a class, not a number. A judge gives its class; the human
truth of the input (`kilngit.evals.truth`) gives the right one. What is reported is the per-class confusion
matrix, the accuracy and the macro-F1 (mean F1 over the classes that occur), in `eval align` (judge vs
humans), `eval scores` (each run config's outputs vs humans) and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kilngit.evals.agreement import ConfusionMatrix, JsonDataclass, confusion_matrix
from kilngit.records import EvalScore, Task

__all__ = ["NO_CLASS", "LabelStats", "human_rating_name", "label_stats", "read_label", "score_classes"]

#: The column of a confusion matrix for answers that name none of the classes.
NO_CLASS = "(none)"


def human_rating_name(score: EvalScore, task: Task) -> str:
    """The human rating a score is compared with: its `human_rating`, else the task requirement of the same
    name, else the overall rating."""
    if score.human_rating:
        return score.human_rating
    return score.name if task.requirement(score.name) is not None else "overall"


def score_classes(score: EvalScore, task: Task) -> list[str]:
    """The classes of a label score: its own `labels`, else those of the human rating it is compared with."""
    return list(score.labels) or task.rating_scale(human_rating_name(score, task))[1]


def read_label(value: object, classes: Sequence[str]) -> str | None:
    """The class `value` names (case, surrounding space and quotes ignored), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip().strip("\"'.").strip().casefold()
    return next((c for c in classes if c.casefold() == text), None)


@dataclass(frozen=True)
class LabelStats(JsonDataclass):
    """Agreement of predicted classes with the true ones."""

    n: int
    accuracy: float | None
    macro_f1: float | None
    """Mean F1 over the classes that occur as truth or prediction (None when there are none)."""
    confusion: ConfusionMatrix
    """Rows: the true class; columns: the predicted class (NO_CLASS for answers naming none)."""


def label_stats(pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> LabelStats:
    """Accuracy, macro-F1 and the confusion matrix of (true, predicted) pairs over `classes`."""
    labels = list(classes)
    if any(p not in labels for _, p in pairs) or any(t not in labels for t, _ in pairs):
        labels += [
            x for x in dict.fromkeys([*(t for t, _ in pairs), *(p for _, p in pairs)]) if x not in labels
        ]
    matrix = confusion_matrix([t for t, _ in pairs], [p for _, p in pairs], labels)
    occurring = [c for c in matrix.per_class if c.support or c.predicted]
    f1s = [c.f1 or 0.0 for c in occurring if c.label != NO_CLASS]
    accuracy = sum(t == p for t, p in pairs) / len(pairs) if pairs else None
    return LabelStats(len(pairs), accuracy, sum(f1s) / len(f1s) if f1s else None, matrix)
