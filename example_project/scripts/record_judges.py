"""Re-record the LLM judges' answers of the example project, offline.

The example's LLM judges (`llm` in each eval) name provider `openai`, model gpt-4o-mini, but their answers are
not from OpenAI: this script serves the verdicts written in `judge_verdicts.json` (one per request and
answer, written by the kilngit authors) from a loopback OpenAI-compatible server, and records them with
kilngit's record/replay cache into `recordings/`. The main job then replays them with `--cache replay`, so
it needs no key and no network.

Run it again after changing anything an LLM judge's request depends on (the task instruction, an eval's
scores, an LLM judge's definition or knowledge file, kilngit's judge prompt):

    python example_project/scripts/record_judges.py

The grounded judge (`grounded` in correctness) reads the execution judge's scores. Its answers are recorded
for every score the execution judge can give each run (pass and fail), so the main job replays whatever the
command does on the machine at hand; the scripted answer is the verdict of `judge_verdicts.json`, turned to
fail when the execution evidence says the command failed.

It works on a temporary copy of the project, so no judge result is written into it; only `recordings/` is
replaced.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from kilngit.evals.items import eval_items, judgeable
from kilngit.evals.judges import PreparedJudge
from kilngit.evals.metrics import allowed_values
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import JudgeResult
from kilngit.testing.fake_openai import FakeOpenAI

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
TASK = "nl-to-ffmpeg"


def load_verdicts(path: Path) -> dict[tuple[str, str], dict]:
    """(input, output) -> the scripted verdict."""
    return {(v["input"], v["output"]): v for v in json.loads(path.read_text(encoding="utf-8"))}


def responder(verdicts: dict[tuple[str, str], dict]):  # type: ignore[no-untyped-def]
    """Answer a judge request with the verdict for its (input, output), for the scores the request asks."""

    def answer(body: dict) -> str:
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        user, _, evidence = user.partition("\n\nEvidence from other judges about this output:\n")
        failed_runs = [json.loads(s) for s in re.findall(r"^scores: (\{.*\})$", evidence, re.M)]
        found = re.search(
            r"given this input:\n<eval_data>\n(.*?)\n</eval_data>.*produced this output:\n"
            r"<eval_data>\n(.*)\n</eval_data>$",
            user,
            re.S,
        )
        if found is None or (found.group(1), found.group(2)) not in verdicts:
            raise KeyError("no scripted verdict for this request; add it to judge_verdicts.json")
        verdict = verdicts[(found.group(1), found.group(2))]
        template = system.rsplit("in this form:", 1)[1]
        asked = [name for name in re.findall(r'"(\w+)":', template) if name != "reasoning"]
        values = {name: verdict[name] for name in asked}
        reasoning = verdict["reasoning"]
        if any(0.0 in scores.values() for scores in failed_runs):
            values = {name: "fail" for name in values}
            reasoning += " The execution judge ran it and it failed, so it does not do what was asked."
        elif failed_runs:
            reasoning += " The execution judge ran it successfully."
        return json.dumps({"reasoning": reasoning, **values})

    return answer


async def record_grounded(project: Project, eval_slug: str, name: str) -> int:
    """Record a grounded judge's answer for every run and every combination of evidence scores."""
    judge = PreparedJudge.prepare(project, TASK, eval_slug, name, cache="record")
    setup = judge.setup
    if setup.judge.evidence_parts != ["scores"]:
        print(
            f"{name}: only score-only evidence (evidence_parts: [scores]) can be pre-recorded",
            file=sys.stderr,
        )
        return 1
    choices = [[(s.name, v) for v in allowed_values(s.type)] for s in setup.scores]
    items = eval_items(project, TASK, setup.eval)
    states = judgeable(items.eval_set + items.golden)
    count = 0
    try:
        for state in states:
            for combination in itertools.product(*choices):
                evidence = {
                    slug: JudgeResult(
                        task=TASK,
                        eval=eval_slug,
                        judge=slug,
                        judge_hash="recording",
                        run=state.id,
                        scores=dict(combination),
                    ).with_id()
                    for slug in setup.judge.evidence or []
                }
                verdict = await judge.judge(state, 0, evidence)  # type: ignore[arg-type]
                if verdict.error:
                    print(f"{name}: {verdict.error}", file=sys.stderr)
                    return 1
                count += 1
    finally:
        await judge.aclose()
    print(f"{TASK}/{eval_slug}: {name}: recorded {count} answers ({len(states)} runs x each evidence score)")
    return 0


def main() -> int:
    verdicts = load_verdicts(HERE / "judge_verdicts.json")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(responder=responder(verdicts)) as server:
        copy = Path(tmp) / "project"
        shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("results", "recordings", ".kilngit"))
        os.environ["KILNGIT_PROVIDER_OPENAI_BASE_URL"] = server.base_url
        os.environ["OPENAI_API_KEY"] = "not-a-real-key"
        project = Project(copy)
        for eval_slug in project.evals(TASK):
            llm = [
                name
                for name, j in project.judges(TASK, eval_slug).items()
                if j.type in ("llm_as_judge", "g_eval")
            ]
            if not llm:
                continue
            summary = run_eval(project, TASK, eval_slug, judges=llm, cache="record", progress=False)
            print("\n".join(summary.lines()))
            if summary.fatal or any(t.errors or t.not_recorded for t in summary.judges.values()):
                print("recording failed; recordings/ left as it was", file=sys.stderr)
                return 1
            for name, judge in project.judges(TASK, eval_slug).items():
                if judge.type == "grounded" and asyncio.run(record_grounded(project, eval_slug, name)):
                    return 1
        target = PROJECT / "recordings"
        fresh = {p.relative_to(copy / "recordings") for p in (copy / "recordings").rglob("*.json")}
        for path in target.rglob("*.json"):  # answers no request asks for any more
            if path.relative_to(target) not in fresh:
                path.unlink()
        for rel in fresh:  # an answer already recorded keeps its bytes (its latency), so diffs show only news
            if not (target / rel).exists():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(copy / "recordings" / rel, target / rel)
    print(f"recorded {sum(1 for _ in target.rglob('*.json'))} answers into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
