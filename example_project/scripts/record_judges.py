"""Re-record the LLM judges' answers of the example project, offline.

The example's LLM judges (`llm` in each eval) name provider `openai`, model gpt-4o-mini, but their answers are
not from OpenAI: this script serves the verdicts written in `judge_verdicts.json` (one per request and
answer, written by the kilngit authors) from a loopback OpenAI-compatible server, and records them with
kilngit's record/replay cache into `recordings/`. The main job then replays them with `--cache replay`, so
it needs no key and no network.

Run it again after changing anything an LLM judge's request depends on (the task instruction, an eval's
scores, an LLM judge's definition or knowledge file, kilngit's judge prompt):

    python example_project/scripts/record_judges.py

It works on a temporary copy of the project, so no judge result is written into it; only `recordings/` is
replaced.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from kilngit.evals.runner import run_eval
from kilngit.project import Project
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
        found = re.search(r"given this input:\n<eval_data>\n(.*?)\n</eval_data>.*produced this output:\n"
                          r"<eval_data>\n(.*)\n</eval_data>$", user, re.S)
        if found is None or (found.group(1), found.group(2)) not in verdicts:
            raise KeyError("no scripted verdict for this request; add it to judge_verdicts.json")
        verdict = verdicts[(found.group(1), found.group(2))]
        template = system.rsplit("in this form:", 1)[1]
        asked = [name for name in re.findall(r'"(\w+)":', template) if name != "reasoning"]
        return json.dumps({"reasoning": verdict["reasoning"], **{name: verdict[name] for name in asked}})

    return answer


def main() -> int:
    verdicts = load_verdicts(HERE / "judge_verdicts.json")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(responder=responder(verdicts)) as server:
        copy = Path(tmp) / "project"
        shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("results", "recordings", ".kilngit"))
        os.environ["KILNGIT_PROVIDER_OPENAI_BASE_URL"] = server.base_url
        os.environ["OPENAI_API_KEY"] = "not-a-real-key"
        project = Project(copy)
        for eval_slug in project.evals(TASK):
            llm = [name for name, j in project.judges(TASK, eval_slug).items() if j.type in ("llm_as_judge", "g_eval")]
            if not llm:
                continue
            summary = run_eval(project, TASK, eval_slug, judges=llm, cache="record", progress=False)
            print("\n".join(summary.lines()))
            if summary.fatal or any(t.errors or t.not_recorded for t in summary.judges.values()):
                print("recording failed; recordings/ left as it was", file=sys.stderr)
                return 1
        target = PROJECT / "recordings"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(copy / "recordings", target)
    print(f"recorded {sum(1 for _ in target.rglob('*.json'))} answers into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
