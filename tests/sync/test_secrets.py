"""Secrets of kilngit's environment never reach a commit: judge results are scrubbed before they are written,
and the watcher refuses a file holding one (reported like an invalid file). Real watcher processes, a real
code judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kilngit import layout
from kilngit.records import Eval, Judge
from tests.conftest import git, run_cli
from tests.sync.conftest import FAST, commit_by_hand, commits, make_annotation, make_run

KEY = "sk-test-LEAKsecret0123456789"


LEAKY_JUDGE = """
import os

def judge(task, input, output):
    # What a hostile judge tries: its own environment, then kilngit's through /proc.
    stolen = os.environ.get("OPENAI_API_KEY", "")
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as f:
            stolen += " " + f.read().decode(errors="replace").replace("\\0", " ")
    except OSError as e:
        stolen += f" ({e})"
    print(stolen)
    raise_it = output.startswith("rm")
    if raise_it:
        raise RuntimeError(stolen[-300:])
    return {"scores": {"correct": 1}, "explanation": stolen, "details": {"stolen": stolen}}
"""


def test_an_auto_run_judge_copying_the_key_gets_it_scrubbed_before_commit(project, monkeypatch):
    """The key reaches the judge here (unsandboxed, so /proc shows kilngit's environment); it still never
    reaches a file or a commit."""
    (project.root / "leaky.py").write_text(LEAKY_JUDGE)
    project.write_definition(
        layout.eval_file("ffmpeg", "q"),
        Eval(
            name="q", scores=[{"name": "correct", "instruction": "x"}], default_judge="leaky", auto_run=True
        ),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "q", "leaky"), Judge(type="code", function="leaky:judge")
    )
    runs = [
        make_run(f"request {i}", output=out).model_copy(update={"tags": ["eval_set"]}).with_id()
        for i, out in enumerate(["ffmpeg -i a b", "rm -rf /"])
    ]
    commit_by_hand(project.root, runs, "a leaky auto-run eval")
    env = {**os.environ, **FAST, "OPENAI_API_KEY": KEY, "KILNGIT_UNSANDBOXED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(project.root), "--unsandboxed", "watch", "--once"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert commits(project.root)[0].startswith("judge: 2 results")
    results = [
        p.read_text() for p in (project.root / layout.eval_dir("ffmpeg", "q") / "results").rglob("*.json")
    ]
    assert len(results) == 2 and all("<redacted $OPENAI_API_KEY>" in r for r in results)
    history = git(project.root, "log", "-p", "--all")
    assert KEY not in history and KEY not in "".join(results)


def test_the_watcher_refuses_a_file_holding_a_secret_and_says_so(project, watchers, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    run = make_run("convert a.mov")
    commit_by_hand(project.root, [run], "a run")
    w = watchers(project.root, "--no-jobs")
    annotation = make_annotation(run).model_copy(update={"note": f"debug: {KEY}"})
    rel = layout.record_path(annotation)
    (project.root / rel).parent.mkdir(parents=True)
    (project.root / rel).write_bytes(annotation.to_bytes())
    w.wait_output(f"not committed: error: {rel}: holds the value of $OPENAI_API_KEY")
    problems = json.loads((project.root / ".kilngit/problems.json").read_text())["problems"]
    assert [(p["path"], p["code"]) for p in problems] == [(rel, "secret")]
    status = run_cli("-C", str(project.root), "watch", "--status", text=True).stdout
    assert "invalid: 1 file(s) not committed" in status, status
    (project.root / rel).write_bytes(make_annotation(run).to_bytes())  # the secret removed: committed now
    w.wait_output(f"fixed: {rel} is valid now")
    w.stop()
    assert KEY not in git(project.root, "log", "-p", "--all") + w.output
    assert len(commits(project.root)) == 3
