"""The execution judge through kilngit's runner, in kilngit's code-judge sandbox (bubblewrap: reduced
environment, private /tmp, few processes), with each ffmpeg binary: the binary chosen with KILNGIT_FFMPEG
reaches the judge, and a 12-stream input can be made within the sandbox's process limit."""

from __future__ import annotations

import shutil
from pathlib import Path

from kilngit import layout
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import Eval, Judge, Source, TaskRun

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
TASK = "nl-to-ffmpeg"
REQUEST = (
    "in.mkv has 4 video streams and 8 audio streams. Keep video stream 0:2 and audio stream 0:7 in out.mkv"
)
ANSWERS = {
    "right": "Map them and copy:\n\n```bash\nffmpeg -i in.mkv -map 0:2 -map 0:7 -c copy out.mkv\n```",
    "wrong": "Map them and copy:\n\n```bash\nffmpeg -i in.mkv -map 0:3 -map 0:8 -c copy out.mkv\n```",
}


def test_judge_in_kilngits_sandbox(ffmpeg_bin, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(
        EXAMPLE, root, ignore=shutil.ignore_patterns("runs", "annotations", "results", "recordings")
    )
    project = Project(root)
    runs = {}
    for name, answer in ANSWERS.items():
        run = TaskRun(
            task=TASK,
            input=REQUEST,
            input_source=Source(type="human", created_by="t@example.com"),
            output=answer,
            output_source=Source(type="human", created_by="t@example.com"),
            tags=["probe"],
        ).with_id()
        project.write_record(run)
        runs[run.id] = name
    project.write_definition(
        layout.eval_file(TASK, "probe"),
        Eval(
            name="probe",
            scores=[{"name": "correct", "instruction": "Does what was asked."}],
            eval_set="tag::probe",
            golden_set="tag::probe",
        ),
    )
    judge = Judge.model_validate({"type": "code", "function": "judges.ffmpeg_exec:judge", "timeout_s": 300})
    project.write_definition(layout.judge_file(TASK, "probe", "exec"), judge)
    summary = run_eval(Project(root), TASK, "probe", progress=False)
    assert not summary.fatal and summary.judges["exec"].scored == 2, summary
    results = {runs[r.run]: r for r in Project(root).judge_results(TASK, "probe")}
    assert results["right"].scores == {"correct": 1.0}, results["right"].explanation
    assert results["wrong"].scores == {"correct": 0.0}, results["wrong"].explanation
    assert results["right"].details["ffmpeg"]["path"] == ffmpeg_bin
