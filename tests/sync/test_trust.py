"""Trust on pull, with real clones and a bare remote: a teammate pushes a code judge and an auto-run eval; the
other clone's `run eval` and `watch --sync` do not run them until `kilngit trust` on that machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kilngit import layout
from kilngit.records import Eval, Judge
from kilngit.trust import review
from tests.conftest import git
from tests.sync.conftest import FAST, HANG_S, clone, commit_by_hand, make_run, wait_for

KEY = "sk-test-TRUSTsecret0123456789"

JUDGE = """
import os

def judge(task, input, output):
    stolen = os.environ.get("OPENAI_API_KEY", "no key here")
    try:
        stolen += " " + open(f"/proc/{os.getppid()}/environ").read()
    except OSError:
        pass
    return {"scores": {"correct": 1 if output.startswith("ffmpeg") else 0}, "explanation": stolen}
"""

pytestmark = pytest.mark.usefixtures("untrusted")


def kilngit(root, *args, stdin=subprocess.DEVNULL):
    return subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(root), *args],
        capture_output=True,
        text=True,
        stdin=stdin,
        env={**os.environ, **FAST, "OPENAI_API_KEY": KEY},
    )


def push_code_judge(teammate) -> None:
    """What the teammate pushes: a judge module, a code judge, and an auto-run eval using it."""
    (teammate.root / "judges_x.py").write_text(JUDGE)
    teammate.write_definition(
        layout.eval_file("ffmpeg", "auto"),
        Eval(name="auto", scores=[{"name": "correct", "instruction": "x"}], default_judge="x", auto_run=True),
    )
    teammate.write_definition(
        layout.judge_file("ffmpeg", "auto", "x"), Judge(type="code", function="judges_x:judge")
    )
    git(teammate.root, "add", "-A")
    git(teammate.root, "commit", "-qm", "a code judge and an auto-run eval")
    git(teammate.root, "push", "-q")


@pytest.fixture
def two_clones(project, remote, tmp_path):
    runs = [
        make_run(f"request {i}", output=o).model_copy(update={"tags": ["eval_set"]}).with_id()
        for i, o in enumerate(["ffmpeg -i a b", "rm -rf /", "ffmpeg -i c d"])
    ]
    commit_by_hand(project.root, runs, "eval set")
    git(project.root, "push", "-q")
    runner, teammate = clone(remote, tmp_path / "runner"), clone(remote, tmp_path / "teammate")
    assert kilngit(runner.root, "trust", "--yes").returncode == 0  # the runner's operator trusts the start
    return runner, teammate


def results(root) -> list:
    folder = root / layout.eval_dir("ffmpeg", "auto") / "results"
    return sorted(folder.rglob("*.json")) if folder.exists() else []


def test_run_eval_refuses_pulled_code_until_trusted(two_clones):
    runner, teammate = two_clones
    push_code_judge(teammate)
    git(runner.root, "pull", "-q")
    refused = kilngit(runner.root, "run", "eval", "auto", "--no-show")
    assert refused.returncode == 1 and results(runner.root) == []
    assert "not running code judge x (judges_x:judge): this machine has not trusted" in refused.stderr
    assert (
        "new code: judges_x.py" in refused.stderr
        and "new code judge: tasks/ffmpeg/evals/auto/judges/x.yaml" in refused.stderr
        and "kilngit -C" in refused.stderr
        and " trust" in refused.stderr
    )
    listing = kilngit(runner.root, "trust")  # asks; no answer (stdin closed): nothing trusted
    assert (
        listing.returncode == 1 and "new auto-run eval: tasks/ffmpeg/evals/auto/eval.yaml" in listing.stdout
    )
    assert "+def judge(task, input, output):" in listing.stdout  # the diff since the last trusted commit
    assert kilngit(runner.root, "run", "eval", "auto", "--no-show").returncode == 1
    trusted = kilngit(runner.root, "trust", "--yes")
    assert trusted.returncode == 0 and "trusted: 3 item(s)" in trusted.stdout, trusted.stdout + trusted.stderr
    done = kilngit(runner.root, "run", "eval", "auto", "--no-show")
    assert done.returncode == 0, done.stderr
    assert len(results(runner.root)) == 3
    assert all(KEY not in p.read_text() for p in results(runner.root))


def test_a_change_pulled_later_needs_trust_again_but_own_edits_do_not(two_clones):
    runner, teammate = two_clones
    push_code_judge(teammate)
    git(runner.root, "pull", "-q")
    assert kilngit(runner.root, "trust", "--yes").returncode == 0
    (teammate.root / "judges_x.py").write_text(JUDGE + "\n# changed by the teammate\n")
    git(teammate.root, "commit", "-qam", "change the judge")
    git(teammate.root, "push", "-q")
    git(runner.root, "pull", "-q")
    assert [(i.path, i.new) for i in review(runner.root).untrusted] == [("judges_x.py", False)]
    assert "+# changed by the teammate" in kilngit(runner.root, "trust").stdout
    assert kilngit(runner.root, "trust", "--yes").returncode == 0
    (runner.root / "judges_x.py").write_text(JUDGE + "\n# my own edit\n")  # edited here: this machine's own
    (runner.root / "helper.py").write_text("X = 1\n")
    assert review(runner.root).untrusted == []
    git(runner.root, "commit", "-qam", "my edit")
    assert review(runner.root).untrusted == []


def test_watch_sync_does_not_run_a_pulled_auto_run_eval_until_trusted(
    two_clones, watchers, monkeypatch, remote
):
    runner, teammate = two_clones
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    w = watchers(runner.root, "--sync")
    push_code_judge(teammate)
    w.wait_output("not running 1 job(s) (auto-run eval auto (ffmpeg)", timeout=HANG_S)
    w.wait_output("new code judge: tasks/ffmpeg/evals/auto/judges/x.yaml")
    status = json.loads(kilngit(runner.root, "watch", "--status", "--format", "json").stdout)
    assert "judges_x.py" in status["untrusted"]
    assert "untrusted: 3 item(s) wait for `kilngit trust`" in kilngit(runner.root, "watch", "--status").stdout
    assert results(runner.root) == []
    assert kilngit(runner.root, "trust", "--yes").returncode == 0
    w.wait_output("job done: auto-run eval auto", timeout=HANG_S)
    wait_for(
        lambda: "judge: 3 results" in git(remote, "log", "--format=%s", "main"),
        timeout=HANG_S,
        what="the results pushed",
    )
    w.stop()
    assert KEY not in git(remote, "log", "-p", "main")  # sandboxed: the judge never saw the key
    assert "no key here" in git(remote, "log", "-p", "main")
    assert KEY not in w.output


def test_ci_trusts_the_checkout_explicitly(two_clones):
    runner, teammate = two_clones
    push_code_judge(teammate)
    git(runner.root, "pull", "-q")
    done = kilngit(runner.root, "--trust", "run", "eval", "auto", "--no-show")
    assert done.returncode == 0, done.stderr
    assert len(results(runner.root)) == 3 and review(runner.root).untrusted == []


def test_a_pulled_symlink_shadowing_a_module_needs_trust(two_clones):
    runner, teammate = two_clones
    (teammate.root / "notes.txt").write_text("import os\nos.system('echo pwned')\n")
    (teammate.root / "tempfile.py").symlink_to(
        "notes.txt"
    )  # `import tempfile` in a trusted judge would run it
    git(teammate.root, "add", "-A")
    git(teammate.root, "commit", "-qm", "innocent notes")
    git(teammate.root, "push", "-q")
    git(runner.root, "pull", "-q")
    assert [(i.path, i.kind) for i in review(runner.root).untrusted] == [("tempfile.py", "code")]
