"""Auditing an eval's golden labels: which human consensus labels are probably wrong, and why.

    report = audit_eval(project, "ffmpeg", "correctness")
    for suspect in report.suspects: print(suspect.p_wrong, [r.text for r in suspect.reasons])

The evidence never takes the labels under suspicion as the truth:

1. **Judges, weighted by estimated reliability.** Dawid-Skene EM (`audit_em`) over the people and every judge
   of the eval as annotators estimates each one's confusion matrix from all golden items together; for each
   item, the judges' labels alone give `p_judges`, the chance the consensus is wrong by the judges.
2. **How the label was made** (`audit_process`): bursts of identical labels, labels faster than reading,
   labels that follow the generation session or topic. Each lowers the trust in that person's label.
3. **Inter-rater disagreement**: raters who split leave no consensus; the item is a suspect by itself.

`p_wrong` is the posterior that the consensus class is not the true class, from everyone's labels with the
people's weighted by their estimated reliability and their trust for that item. Execution judges (code
judges and checks) are annotators like the others; their explanation is quoted as evidence a reviewer can
check. Nothing is judged: the audit reads the results on disk, and `sharpen` says what judging would help.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kilngit.evals.agreement import JsonDataclass
from kilngit.evals.audit_data import AuditData, AuditItem, load_audit_data
from kilngit.evals.audit_em import DawidSkene, dawid_skene
from kilngit.evals.audit_process import Flag, group_flags, timing_flags, trust
from kilngit.project import Project
from kilngit.records.judge_types import JUDGE_TYPES

SUSPECT = 0.5
"""`p_wrong` from which an item is listed as a suspect."""
CLIP = 240


@dataclass(frozen=True)
class Reason(JsonDataclass):
    kind: str
    """judges, execution, raters, burst, fast or groups."""
    text: str
    numbers: dict[str, float | str | int]


@dataclass
class Suspect(JsonDataclass):
    run: str
    input: str
    output: str
    consensus: str | None
    """The human consensus class (None: the raters are split)."""
    labels: dict[str, str]
    """rater -> class."""
    likely: str
    """The most likely true class by everyone's evidence."""
    p_wrong: float
    """Probability that the consensus is wrong (for split raters: that every rater's class is)."""
    p_judges: float | None
    """The same from the judges' labels alone (None without judges)."""
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class Annotator(JsonDataclass):
    name: str
    kind: str
    """person, judge (a model) or execution (code judges and checks)."""
    items: int
    reliability: float
    """Estimated accuracy on the golden items (Dawid-Skene)."""


@dataclass
class AuditReport(JsonDataclass):
    task: str
    eval: str
    score: str
    human_rating: str
    classes: list[str]
    golden: int
    """Golden items with a human label of the score."""
    items: list[Suspect]
    """Every golden item, most suspect first."""
    annotators: list[Annotator]
    sharpen: list[str]
    """Judging that would make the audit more certain."""

    @property
    def suspects(self) -> list[Suspect]:
        return [s for s in self.items if s.p_wrong >= SUSPECT]


def audit_eval(project: Project, task: str | None, eval_slug: str, score: str | None = None) -> AuditReport:
    """Rank the golden items of an eval by how likely their human consensus is wrong (module doc)."""
    task = project.task_slug(task)
    data = load_audit_data(project, task, eval_slug, score)
    labels = {item.id: _labels(item) for item in data.items}
    ds = dawid_skene(labels, data.classes)
    judges_only = {
        item.id: ds.posterior_from({f"judge:{j.judge}": j.verdict for j in item.judges})
        for item in data.items
        if item.judges
    }
    evidence = {run: max(post, key=post.__getitem__) for run, post in judges_only.items()}
    flags = timing_flags(data)
    for key, more in group_flags(data, evidence).items():
        flags.setdefault(key, []).extend(more)
    items = [_suspect(item, ds, labels[item.id], judges_only.get(item.id), flags) for item in data.items]
    items.sort(key=lambda s: (-s.p_wrong, -len(s.reasons), s.run))
    return AuditReport(
        task,
        eval_slug,
        data.score.name,
        data.human_rating,
        data.classes,
        len(data.items),
        items,
        _annotators(data, ds),
        _sharpen(data),
    )


def _labels(item: AuditItem) -> dict[str, dict[str, float]]:
    out = {f"person:{h.rater}": {h.label: 1.0} for h in item.humans}
    out.update({f"judge:{j.judge}": j.verdict for j in item.judges})
    return out


def _suspect(
    item: AuditItem,
    ds: DawidSkene,
    labels: dict[str, dict[str, float]],
    judges_only: dict[str, float] | None,
    flags: dict[tuple[str, str], list[Flag]],
) -> Suspect:
    weights = {f"person:{h.rater}": trust(flags.get((h.rater, item.id), [])) for h in item.humans}
    post = ds.posterior_from(labels, weights)
    given = {h.rater: h.label for h in item.humans}
    if item.consensus is not None:
        p_wrong = 1 - post[item.consensus]
        p_judges = None if judges_only is None else 1 - judges_only[item.consensus]
    else:
        p_wrong = 1 - max(post[c] for c in set(given.values()))
        p_judges = None if judges_only is None else 1 - max(judges_only[c] for c in set(given.values()))
    run = item.state.run
    suspect = Suspect(
        item.id,
        _clip(run.input),
        _clip(run.output or ""),
        item.consensus,
        given,
        max(post, key=post.__getitem__),
        round(p_wrong, 4),
        None if p_judges is None else round(p_judges, 4),
    )
    suspect.reasons = _reasons(item, ds, judges_only, p_judges, flags)
    return suspect


def _reasons(
    item: AuditItem,
    ds: DawidSkene,
    judges_only: dict[str, float] | None,
    p_judges: float | None,
    flags: dict[tuple[str, str], list[Flag]],
) -> list[Reason]:
    out = []
    target = item.consensus
    if judges_only is not None and p_judges is not None and target is not None and p_judges >= 0.5:
        votes = Counter(max(j.verdict, key=j.verdict.__getitem__) for j in item.judges)
        against = sum(n for c, n in votes.items() if c != target)
        best = sorted(item.judges, key=lambda j: -ds.reliability(f"judge:{j.judge}"))[:3]
        named = ", ".join(
            f"{j.judge} ({ds.reliability('judge:' + j.judge):.2f}): "
            f"{max(j.verdict, key=j.verdict.__getitem__)!r}"
            for j in best
        )
        out.append(
            Reason(
                "judges",
                f"{against} of {len(item.judges)} judges disagree with the consensus "
                f"{target!r}; weighted by their estimated reliability, the judges alone put "
                f"P(consensus wrong) at {p_judges:.2f} (most reliable: {named})",
                {"judges": len(item.judges), "against": against, "p_judges": round(p_judges, 4)},
            )
        )
    for j in item.judges:
        said = max(j.verdict, key=j.verdict.__getitem__)
        if j.execution and target is not None and said != target:
            out.append(
                Reason(
                    "execution",
                    f"execution judge {j.judge} says {said!r}: {j.why or 'no explanation'}",
                    {"judge": j.judge, "class": said, "result": j.result},
                )
            )
    if item.consensus is None:
        split = ", ".join(f"{h.rater} {h.label!r}" for h in item.humans)
        out.append(
            Reason("raters", f"the raters disagree ({split}): no consensus", {"raters": len(item.humans)})
        )
    elif len({h.label for h in item.humans}) > 1:
        split = ", ".join(f"{h.rater} {h.label!r}" for h in item.humans)
        out.append(Reason("raters", f"not unanimous ({split})", {"raters": len(item.humans)}))
    for h in item.humans:
        for flag in flags.get((h.rater, item.id), []):
            out.append(Reason(flag.kind, flag.text, {**flag.numbers, "rater": h.rater}))
    return out


def _annotators(data: AuditData, ds: DawidSkene) -> list[Annotator]:
    counts: Counter[str] = Counter()
    kinds = {}
    for item in data.items:
        for h in item.humans:
            counts[f"person:{h.rater}"] += 1
            kinds[f"person:{h.rater}"] = "person"
        for j in item.judges:
            counts[f"judge:{j.judge}"] += 1
            kinds[f"judge:{j.judge}"] = "execution" if j.execution else "judge"
    return sorted(
        (
            Annotator(name.split(":", 1)[1], kinds[name], n, round(ds.reliability(name), 4))
            for name, n in counts.items()
        ),
        key=lambda a: (a.kind != "person", -a.reliability, a.name),
    )


def _sharpen(data: AuditData) -> list[str]:
    out = []
    run = f"kilngit run eval {data.eval_slug}"
    for judge, missing in sorted(data.not_judged.items()):
        if missing:
            out.append(
                f"{missing} golden item(s) have no current result from judge {judge!r}: `{run} --judge {judge}`"
            )
    kinds = set(data.judges.values())
    if not kinds & {"code"}:
        out.append(
            "no execution judge: a code judge that runs or checks the output gives evidence that does not "
            "depend on anyone's reading (docs/evals.md, `code`)"
        )
    llm = [n for n, k in data.judges.items() if JUDGE_TYPES[k].calls_model]
    if len(llm) < 2:
        out.append(
            "fewer than two LLM judges: reliability is estimated best from several independent judges "
            "(another model, or `--samples 3` to see how sure one judge is)"
        )
    if "grounded" not in kinds and "code" in kinds:
        out.append(
            "a grounded judge reading the execution judge's evidence (`type: grounded`) would combine both"
        )
    if not any(h.rated_at for item in data.items for h in item.humans):
        out.append(
            "no label has rated_at: labels made with `kilngit rate`/`label` (or imported from Kiln) record "
            "when they were given, which the audit reads"
        )
    return out


def _clip(text: str) -> str:
    return text if len(text) <= CLIP else text[:CLIP] + "..."
