"""Fixtures for the web app: a project with two run configs over an eval's inputs, ratings, judge results
(with explanations and evidence), hostile outputs, and the app itself behind a real loopback server."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install 'kilngit[serve]')")

from kilngit import layout  # noqa: E402
from kilngit.project import Project  # noqa: E402
from kilngit.records import JudgeResult  # noqa: E402
from kilngit.records.evals import judge_hash  # noqa: E402
from tests.evals.conftest import ITEMS, TASK, add_run, rate, write_eval, write_judge  # noqa: E402

ALICE, BOB = "alice@example.com", "bob@example.com"
TOKENS = {"alice-token-0123456789": ALICE, "bob-token-0123456789ab": BOB}
HOSTILE = (
    '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    '<b onmouseover="window.pwned = 3">bold</b>'
)


def fill(project: Project) -> None:
    """Runs of configs `good` and `bad` on six eval inputs (the first two golden, rated by both), a hostile output,
    a JSON output and a fenced code block; eval `correctness` judged by `has-ffmpeg`."""
    ev = write_eval(project, default_judge="has-ffmpeg")
    judge = write_judge(project, "has-ffmpeg", type="contains", score="correct", pattern="ffmpeg")
    runs = []
    for i, (text, good, bad, _) in enumerate(ITEMS):
        tags = ("eval_set", "golden") if i < 2 else ("eval_set",)
        g = add_run(project, text, good, "good", tags=tags, cost=0.004, latency=400 + i)
        b = add_run(project, text, bad, "bad", tags=tags, cost=0.001, latency=100 + i)
        runs += [g, b]
        if i < 2:
            for rater in (ALICE, BOB):
                rate(project, g, rater, "pass")
                rate(project, b, rater, "fail")
    runs.append(add_run(project, "say hello in html", HOSTILE, "bad"))
    runs.append(add_run(project, "describe a.mp4 as json", '{"codec": "h264", "<tag>": [1, 2]}', "good"))
    runs.append(
        add_run(
            project, "explain the command", "Use this:\n```bash\nffmpeg -i a.mov a.mp4\n```\nDone.", "good"
        )
    )
    hashed = judge_hash(judge, project.evals(TASK)["correctness"])
    for run in runs:
        hit = "ffmpeg" in (run.output or "")
        project.write_record(
            JudgeResult(
                task=TASK,
                eval="correctness",
                judge="has-ffmpeg",
                judge_hash=hashed,
                run=run.id,
                scores={"correct": 1.0 if hit else 0.0},
                explanation=f"{'found' if hit else 'no'} ffmpeg <i>here</i>",
                details={"evidence": (run.output or "")[:40]},
            )
        )
    del ev


@pytest.fixture(scope="session")
def _serve_template(_template_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serve-template") / "proj"
    shutil.copytree(_template_project, root, symlinks=True)
    fill(Project(root))
    from tests.conftest import git

    git(root, "add", "-A")
    git(root, "commit", "-qm", "runs, ratings and judge results")
    return root


@pytest.fixture
def serve_project(_serve_template: Path, tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    shutil.copytree(_serve_template, root, symlinks=True)
    return Project(root)


@dataclass
class Running:
    url: str
    app: object
    project: Project

    def signin(self, token: str = "alice-token-0123456789") -> str:
        return f"{self.url}/signin?token={token}"


@pytest.fixture
def live(serve_project: Project) -> Iterator[Running]:
    """The app on 127.0.0.1 at an ephemeral port, served by uvicorn in a thread."""
    import uvicorn

    from kilngit.serve.app import create_app
    from kilngit.serve.run import bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = create_app(Project(serve_project.root), TOKENS, port=port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    # The socket already listens, so requests queue until uvicorn accepts them: no wait is needed.
    try:
        yield Running(f"http://127.0.0.1:{port}", app, serve_project)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def annotation_path(project: Project, rater: str, run_id: str) -> Path:
    return project.root / layout.annotation_file(TASK, rater, run_id)
