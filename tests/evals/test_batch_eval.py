"""`run eval --batch`: LLM judges' requests go through the fake server's Batch API, then the results are the
ones an online eval writes, and a re-run asks nothing."""

from __future__ import annotations

import json

from kilngit.evals.runner import run_eval
from kilngit.project import Project
from tests.evals.conftest import llm_judge, results_dir


def test_llm_judges_through_one_batch(eval_project, judge_server, tmp_path, monkeypatch):
    config = tmp_path / "providers.yaml"
    config.write_text(json.dumps({"providers": {"fake": {"options": {"batch_poll_seconds": 0}}}}))
    monkeypatch.setenv("KILNGIT_CONFIG", str(config))
    llm_judge(eval_project)
    summary = run_eval(Project(eval_project.root), None, "correctness", progress=False, batch=True)
    counts = judge_server.counts
    assert counts["batches.create"] == 1 and counts["chat.completions"] == 0
    assert summary.batch is not None and summary.batch.recorded == 12
    assert summary.judges["llm"].scored == 12
    verdicts = [json.loads(p.read_bytes()) for p in results_dir(eval_project, "llm").rglob("*.json")]
    assert len(verdicts) == 12 and all(v.get("error") is None for v in verdicts)
    assert max(judge_server.batch.submitted.values()) == 1
    again = run_eval(Project(eval_project.root), None, "correctness", progress=False, batch=True)
    assert again.judges["llm"].skipped == 12
    assert judge_server.counts["batches.create"] == 1 and judge_server.counts["chat.completions"] == 0
