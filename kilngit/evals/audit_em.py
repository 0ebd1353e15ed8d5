"""Dawid-Skene: the most likely true class of each item, and how reliable each annotator is, from the labels of
people and judges together, with no annotator taken as the truth (Dawid & Skene 1979).

Every annotator `a` has a confusion matrix `pi[a][true][given]`; the classes have a prior. EM alternates:
the posterior of each item's true class given everyone's labels (E), and priors and confusions given those
posteriors (M). Labels may be soft (a judge 70% sure of pass gives {pass: 0.7, fail: 0.3}); a soft label's
likelihood is the mixture `sum_l w_l * pi[a][k][l]`.

The start is the unweighted vote of every annotator, so no one group (the people) sets the starting point.
A Dirichlet prior (`diagonal` extra pseudo-counts on the diagonal, `smoothing` everywhere) keeps
confusions finite with few items and encodes only "an annotator is more often right than wrong".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Labels = dict[str, dict[str, dict[str, float]]]
"""item -> annotator -> {class: weight}."""


@dataclass
class DawidSkene:
    classes: list[str]
    prior: dict[str, float]
    confusion: dict[str, dict[str, dict[str, float]]]
    """annotator -> true class -> given class -> probability."""
    posterior: dict[str, dict[str, float]]
    """item -> class -> probability, from everyone's labels."""
    iterations: int

    def reliability(self, annotator: str) -> float:
        """Estimated accuracy: the chance the annotator gives the true class, under the class prior."""
        pi = self.confusion[annotator]
        return sum(self.prior[k] * pi[k][k] for k in self.classes)

    def posterior_from(
        self, labels: dict[str, dict[str, float]], weights: dict[str, float] | None = None
    ) -> dict[str, float]:
        """The posterior of one item from some annotators' labels only (e.g. without the people's). `weights`
        (annotator -> 0..1) shrink an annotator's confusion toward "says nothing" for this item."""
        log = {k: math.log(self.prior[k]) for k in self.classes}
        for annotator, given in labels.items():
            if annotator not in self.confusion:
                continue
            trust = 1.0 if weights is None else weights.get(annotator, 1.0)
            for k in self.classes:
                like = sum(w * self.confusion[annotator][k].get(c, 0.0) for c, w in given.items())
                like = trust * like + (1 - trust) * sum(given.values()) / len(self.classes)
                log[k] += math.log(max(like, 1e-12))
        return _normalize(log)


def dawid_skene(
    labels: Labels,
    classes: list[str],
    *,
    iterations: int = 100,
    diagonal: float = 2.0,
    smoothing: float = 0.5,
    tolerance: float = 1e-6,
) -> DawidSkene:
    """Fit Dawid-Skene to `labels` (see the module doc)."""
    annotators = sorted({a for given in labels.values() for a in given})
    posterior = {item: _vote(given, classes) for item, given in labels.items()}
    prior: dict[str, float] = {}
    confusion: dict[str, dict[str, dict[str, float]]] = {}
    done = 0
    for done in range(1, iterations + 1):
        prior, confusion = _m_step(labels, posterior, classes, annotators, diagonal, smoothing)
        fitted = DawidSkene(classes, prior, confusion, {}, done)
        new = {item: fitted.posterior_from(given) for item, given in labels.items()}
        change = max((abs(new[i][k] - posterior[i][k]) for i in new for k in classes), default=0.0)
        posterior = new
        if change < tolerance:
            break
    return DawidSkene(classes, prior, confusion, posterior, done)


def _vote(given: dict[str, dict[str, float]], classes: list[str]) -> dict[str, float]:
    counts = {k: 1e-3 for k in classes}
    for dist in given.values():
        for c, w in dist.items():
            if c in counts:
                counts[c] += w
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()}


def _m_step(
    labels: Labels,
    posterior: dict[str, dict[str, float]],
    classes: list[str],
    annotators: list[str],
    diagonal: float,
    smoothing: float,
) -> tuple[dict[str, float], dict[str, dict[str, dict[str, float]]]]:
    mass = {k: smoothing for k in classes}
    counts = {
        a: {k: {c: smoothing + (diagonal if c == k else 0.0) for c in classes} for k in classes}
        for a in annotators
    }
    for item, given in labels.items():
        for k in classes:
            p = posterior[item][k]
            mass[k] += p
            for annotator, dist in given.items():
                for c, w in dist.items():
                    if c in counts[annotator][k]:
                        counts[annotator][k][c] += p * w
    total = sum(mass.values())
    prior = {k: v / total for k, v in mass.items()}
    confusion = {
        a: {k: {c: v / sum(row.values()) for c, v in row.items()} for k, row in rows.items()}
        for a, rows in counts.items()
    }
    return prior, confusion


def _normalize(log: dict[str, float]) -> dict[str, float]:
    top = max(log.values())
    exp = {k: math.exp(v - top) for k, v in log.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}
