"""How a label was made, from `rated_at` and `seconds_on_item` (docs/format.md): signs that a person did not
look at the content.

* **burst**: a run of identical labels given seconds apart (`BURST_GAP_S`), at least `BURST_MIN` long;
* **fast**: a label given faster than the item could be read: the time on screen (`seconds_on_item`, else the
  gap since the rater's previous label, when under `MAX_GAP_S`) below a fast skim of the input and output
  (`SKIM_CHARS_PER_S`, at least `MIN_READ_S`);
* **groups**: a rater whose labels are fully explained by the group a run was generated in (a synthetic-data
  session, a topic, a run config) while the evidence about the content splits those groups.

Each flag has a strength in 0..1: how much it lowers trust in that label (`trust`). The thresholds are fixed
ahead of time from what reading takes, not fitted to any project's labels.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from kilngit.evals.audit_data import AuditData
from kilngit.records.annotation import parse_stamp

BURST_GAP_S = 3.0
BURST_MIN = 5
MAX_GAP_S = 300.0
SKIM_CHARS_PER_S = 50.0
MIN_READ_S = 2.0


@dataclass(frozen=True)
class Flag:
    kind: str
    """burst, fast or groups."""
    text: str
    numbers: dict[str, float | str]
    strength: float


Flags = dict[tuple[str, str], list[Flag]]
"""(rater, run) -> flags on that rater's label of that run."""


def timing_flags(data: AuditData) -> Flags:
    """Burst and fast flags for every golden label with a `rated_at`."""
    flags: Flags = defaultdict(list)
    timeline: dict[str, list[tuple[datetime, str, str, float | None, int]]] = defaultdict(list)
    for item in data.items:
        for h in item.humans:
            if h.rated_at:
                timeline[h.rater].append(
                    (parse_stamp(h.rated_at), item.id, h.label, h.seconds_on_item, item.text_chars)
                )
    for rater, rows in timeline.items():
        rows.sort()
        _bursts(rater, rows, flags)
        for i, (when, run, _, on_screen, chars) in enumerate(rows):
            seen = (
                on_screen
                if on_screen is not None
                else ((when - rows[i - 1][0]).total_seconds() if i else None)
            )
            if seen is None or (on_screen is None and seen > MAX_GAP_S):
                continue
            need = max(MIN_READ_S, chars / SKIM_CHARS_PER_S)
            if seen < need:
                how = (
                    f"{seen:g} s on screen"
                    if on_screen is not None
                    else f"{seen:g} s after their previous label"
                )
                flags[(rater, run)].append(
                    Flag(
                        "fast",
                        f"labeled {how}; reading its {chars:,} characters takes about {need:.0f} s at a fast "
                        f"skim ({SKIM_CHARS_PER_S:g} characters/s)",
                        {"seconds": seen, "reading_seconds": round(need, 1), "characters": chars},
                        round(0.6 * (1 - seen / need), 3),
                    )
                )
    return flags


def _bursts(rater: str, rows: list, flags: Flags) -> None:
    start = 0
    for end in range(1, len(rows) + 1):
        if (
            end < len(rows)
            and rows[end][2] == rows[start][2]
            and (rows[end][0] - rows[end - 1][0]).total_seconds() <= BURST_GAP_S
        ):
            continue
        size = end - start
        if size >= BURST_MIN:
            span = (rows[end - 1][0] - rows[start][0]).total_seconds()
            label = rows[start][2]
            text = (
                f"one of {size} identical {label!r} labels {rater} gave {span / (size - 1):.1f} s apart on "
                f"average ({rows[start][0]:%H:%M:%S}-{rows[end - 1][0]:%H:%M:%S} UTC)"
            )
            for row in rows[start:end]:
                flags[(rater, row[1])].append(
                    Flag(
                        "burst",
                        text,
                        {"size": size, "mean_gap_s": round(span / (size - 1), 2), "label": label},
                        0.5,
                    )
                )
        start = end


def group_flags(data: AuditData, evidence: dict[str, str]) -> Flags:
    """Group flags: for each rater and grouping (session, topic, source) with at least two groups of two or
    more of their labels, the rater is flagged when the group predicts every one of their labels and the
    evidence class (`evidence`: item -> class from judges alone) differs from the label on at least two
    items (those items are flagged)."""
    flags: Flags = defaultdict(list)
    by_rater: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item in data.items:
        for h in item.humans:
            by_rater[h.rater].append((item.id, h.label))
    groups_of = {item.id: item.sessions for item in data.items}
    for rater, labeled in by_rater.items():
        for grouping in ("session", "topic", "source"):
            members: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for run, label in labeled:
                group = groups_of[run].get(grouping)
                if group is not None:
                    members[group].append((run, label))
            sizable = {g: m for g, m in members.items() if len(m) >= 2}
            if len(sizable) < 2 or any(len({lab for _, lab in m}) > 1 for m in sizable.values()):
                continue  # some group holds mixed labels: the group does not explain them
            if len({m[0][1] for m in sizable.values()}) < 2:
                continue  # one label everywhere: nothing ties it to the groups
            against = [
                (run, label)
                for m in sizable.values()
                for run, label in m
                if run in evidence and evidence[run] != label
            ]
            if len(against) < 2:
                continue
            summary = "; ".join(
                f"{g}: {len(m)}x {m[0][1]!r} (evidence: {_counts(m, evidence)})"
                for g, m in sorted(sizable.items())
            )
            text = (
                f"{rater}'s labels follow the {grouping} the run was generated in, not the content: {summary}"
            )
            for run, _ in against:
                flags[(rater, run)].append(
                    Flag(
                        "groups",
                        text,
                        {"grouping": grouping, "groups": len(sizable), "against_evidence": len(against)},
                        0.5,
                    )
                )
    return flags


def _counts(members: list[tuple[str, str]], evidence: dict[str, str]) -> str:
    counts = Counter(evidence[run] for run, _ in members if run in evidence)
    return ", ".join(f"{n}x {label!r}" for label, n in counts.most_common()) or "none"


def trust(flags: list[Flag]) -> float:
    """How far a label is trusted given its flags (1 = fully, never below 0.1)."""
    value = 1.0
    for flag in flags:
        value *= 1 - flag.strength
    return max(value, 0.1)
