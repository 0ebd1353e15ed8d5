"""Jobs the watcher derives from files: auto-run evals, and requests queued on one machine and run on another
(the one with the API keys), each exactly once, their results committed in batches and pushed back."""

from __future__ import annotations

import os
import subprocess
import sys

from kilngit import layout
from kilngit.records import Eval, Judge, RunConfig, TaskRun
from kilngit.sync.jobs import available, pending_jobs
from kilngit.sync.queue import queued_jobs
from kilngit.testing.fake_openai import FakeOpenAI
from tests.conftest import git
from tests.runner.conftest import point_provider_at
from tests.sync.conftest import FAST, HANG_S, clone, commit_by_hand, commits, dirty, make_run, wait_for

OUTPUTS = ["ffmpeg -i a.mov a.mp4", "rm -rf *", "ffmpeg -i b.mp4 -t 5 b.mp4", "echo hi"]


def add_eval(project, auto_run: bool) -> None:
    project.write_definition(
        layout.eval_file("ffmpeg", "quality"),
        Eval(
            name="quality",
            scores=[{"name": "correct", "instruction": "The command does what was asked."}],
            default_judge="has-ffmpeg",
            auto_run=auto_run,
        ),
    )
    project.write_definition(
        layout.judge_file("ffmpeg", "quality", "has-ffmpeg"),
        Judge(type="contains", score="correct", pattern="ffmpeg"),
    )


def eval_set_runs(n: int) -> list[TaskRun]:
    runs = [make_run(f"request {i}", output=OUTPUTS[i % len(OUTPUTS)]) for i in range(n)]
    return [r.model_copy(update={"tags": ["eval_set"]}).with_id() for r in runs]  # type: ignore[misc]


def results(root, eval_slug: str = "quality") -> list[str]:
    folder = root / layout.eval_dir("ffmpeg", eval_slug) / "results"
    return sorted(p.name for p in folder.rglob("*.json")) if folder.exists() else []


def test_auto_run_eval_is_judged_in_the_background_and_committed_in_batches(project, watchers):
    assert available("eval"), "the eval runner is part of this build"
    add_eval(project, auto_run=True)
    commit_by_hand(project.root, eval_set_runs(12), "runs and an auto-run eval")
    assert [j.key for j in pending_jobs(project.root)] == ["eval:ffmpeg/quality"]
    w = watchers(project.root)
    w.wait_output("job done: auto-run eval quality (ffmpeg): 12 judgement(s) missing")
    wait_for(
        lambda: len(results(project.root)) == 12 and not dirty(project.root), what="12 results committed"
    )
    judged = [s for s in commits(project.root) if s.startswith("judge:")]
    assert judged and len(judged) <= 3 and sum(int(s.split()[1]) for s in judged) == 12, judged
    assert pending_jobs(project.root) == []
    w.stop()
    assert w.output.count("job started") == 1


def test_once_runs_pending_jobs_to_the_end_and_commits_their_results(project):
    add_eval(project, auto_run=True)
    commit_by_hand(project.root, eval_set_runs(5), "runs and an auto-run eval")
    done = subprocess.run(
        [sys.executable, "-m", "kilngit", "-C", str(project.root), "watch", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ, **FAST},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "job done: auto-run eval quality" in done.stdout
    assert commits(project.root)[0] == "judge: 5 results (ffmpeg/quality)" and not dirty(project.root)


def test_queued_requests_run_once_on_the_machine_with_keys_and_come_back(
    project, remote, tmp_path, watchers, monkeypatch
):
    add_eval(project, auto_run=False)
    project.write_definition(
        layout.run_config_file("ffmpeg", "fake"),
        RunConfig(provider="fake", model="gpt-4o-mini", prompt="default"),
    )
    inputs_only = [make_run(f"convert clip {i} to webm", output=None) for i in range(3)]
    commit_by_hand(project.root, [*eval_set_runs(4), *inputs_only], "eval set and inputs")
    git(project.root, "push", "-q")
    laptop, runner = clone(remote, tmp_path / "laptop"), clone(remote, tmp_path / "runner")
    env = {**os.environ, **FAST}
    for args in (["eval", "quality"], ["run", "ffmpeg", "--config", "fake"]):
        done = subprocess.run(
            [sys.executable, "-m", "kilngit", "-C", str(laptop.root), "queue", *args],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0 and "queued" in done.stdout, done.stderr
    on_laptop = watchers(laptop.root, "--sync", "--no-jobs")
    with FakeOpenAI() as server:
        point_provider_at(monkeypatch, server)  # only the runner's environment has the provider and its key
        on_runner = watchers(runner.root, "--sync")

        def laptop_has_it_all() -> bool:  # the whole pull landed (a checkout writes queue/ before runs/)
            pulled = git(laptop.root, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")
            return (
                pulled
                and [q.state for q in queued_jobs(laptop)] == ["done", "done"]
                and not dirty(laptop.root)
            )

        wait_for(
            laptop_has_it_all, timeout=HANG_S, what="both requests done, as seen on the laptop after a pull"
        )
        assert server.counts["chat.completions"] == 3
        assert len(results(laptop.root)) == 4
        answered = [r for r in laptop.runs("ffmpeg").values() if r.output and r.output.startswith("echo:")]
        assert len(answered) == 3
        on_runner.stop()
        again = watchers(runner.root, "--sync")  # a restart must not run the requests again
        assert again.stop() == 0
        assert server.counts["chat.completions"] == 3 and "job started" not in again.output
    outcomes = list((runner.root / "tasks/ffmpeg/queue/done").glob("*.json"))
    assert len(outcomes) == 2
    assert "queue: 2 job requests (ffmpeg)" in commits(laptop.root)
    on_laptop.stop()


def test_fine_tune_in_progress_is_followed_until_it_ends(project, watchers, monkeypatch):
    from kilngit.finetune.dispatch import start_finetune
    from kilngit.testing.fake_openai import JobScript
    from tests.finetune.helpers import split_and_finetune

    assert available("finetune"), "the fine-tune module is part of this build"
    with FakeOpenAI() as server:
        monkeypatch.setenv("KILNGIT_PROVIDER_OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-watch")
        split_and_finetune(project, "openai")
        server.script_next_job(JobScript(statuses=["queued", "running", "running", "succeeded"]))
        status = start_finetune(project, "ffmpeg", "ft")  # started elsewhere, without --wait
        assert status.state in ("queued", "running") and status.provider_job_id
        git(project.root, "add", "-A")
        git(project.root, "commit", "-qm", "fine-tune started")
        assert [j.key for j in pending_jobs(project.root)] == ["finetune:ffmpeg/ft"]
        w = watchers(project.root)
        status_file = "HEAD:" + layout.finetune_status_file("ffmpeg", "ft")
        # Three refresh jobs, each a fresh process, with cooldowns and commits between: on a busy machine
        # that takes a while, so the limit only guards a hang.
        wait_for(
            lambda: (
                '"state": "succeeded"' in git(project.root, "show", status_file) and not dirty(project.root)
            ),
            timeout=HANG_S,
            what="the fine-tune's end, committed",
        )
        assert pending_jobs(project.root) == []
        assert w.stop() == 0
    assert any("finetune: 1 status update (ffmpeg/ft)" in s for s in commits(project.root)), commits(
        project.root
    )
