"""The label audit on the imported Kiln demo: it runs on real data and explains every suspect. Nothing is
asserted about which labels are wrong (the demo's labels are the thing under suspicion); only that the
evidence is there and checkable."""

from kilngit.evals.audit import audit_eval
from kilngit.project import Project

TASK, EVAL = "natural-language-ffmpeg", "issue-correctness"


def test_demo_audit_explains_its_suspects(demo_import):
    root, _ = demo_import
    report = audit_eval(Project(root), TASK, EVAL)
    assert report.golden == 34 and len(report.annotators) == 11  # one person, ten imported LLM judges
    assert report.suspects and all(s.reasons for s in report.suspects)
    kinds = {r.kind for s in report.items for r in s.reasons}
    assert {"judges", "burst", "fast"} <= kinds  # Kiln's rating times came through the import
    assert any("no execution judge" in line for line in report.sharpen)
