"""Screenshots of every page of `kilngit serve` for docs/serve/, taken with Debian's Chromium.

    python bench/serve_screenshots.py [OUT]          # default OUT: docs/serve

Builds the small project the web app's tests use (two run configs on six eval inputs, ratings, judge
results, a hostile output), serves it on 127.0.0.1 at a free port, and saves one PNG per page.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

ENV = {
    "GIT_AUTHOR_NAME": "Dana Reviewer",
    "GIT_AUTHOR_EMAIL": "dana@example.com",
    "GIT_COMMITTER_NAME": "Dana Reviewer",
    "GIT_COMMITTER_EMAIL": "dana@example.com",
}


def build(root: Path) -> None:
    from kilngit.authoring import new_task
    from kilngit.init import init_project
    from kilngit.records import Requirement
    from tests.serve.conftest import fill

    project = init_project(root, name="ffmpeg-helper")
    new_task(
        project,
        "ffmpeg",
        "Turn a request into a single ffmpeg command.",
        "NL to ffmpeg",
        [
            Requirement(name="correct_command", instruction="The command does what was asked."),
            Requirement(
                name="no_destructive_actions",
                type="pass_fail_critical",
                instruction="Never deletes or overwrites the user's files.",
            ),
        ],
    )
    fill(project)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "commit", "-qm", "runs of two configs, ratings, judge results"], cwd=root, check=True
    )
    from kilngit.review.rating import RatingChange, parse_overall, rate

    for run_id, word in zip(sorted(project.runs("ffmpeg"))[4:7], ("pass", "fail", "4"), strict=True):
        rate(
            project,
            run_id,
            RatingChange(
                overall=parse_overall(word),
                note="checked by hand" if word == "fail" else None,
                tags_add=("golden",),
            ),
            rater="dana@example.com",
        )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "dana: three labels"], cwd=root, check=True)


def main() -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from kilngit.project import Project
    from kilngit.serve.app import create_app
    from kilngit.serve.run import bind

    out = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "docs" / "serve")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.update(ENV)
    root = Path(tempfile.mkdtemp(prefix="kilngit-shots-")) / "proj"
    build(root)
    project = Project(root)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    token = "screenshot-token-0123456789"
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(project, {token: "dana@example.com"}, port=port), log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    runs = sorted(project.runs("ffmpeg").values(), key=lambda r: r.id)
    rated = next(s.run for s in project.states("ffmpeg").values() if len(s.annotations) == 2)
    shots = {
        "project": "/",
        "runs": "/t/ffmpeg/runs?q=tag::eval_set",
        "run": f"/t/ffmpeg/runs/{rated.id}",
        "label": "/t/ffmpeg/label?q=config::bad",
        "compare": "/t/ffmpeg/compare",
        "evals": "/evals",
        "review": "/review?base=HEAD~1&head=HEAD",
    }
    del runs
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{url}/signin?token={token}")
        for name, path in shots.items():
            page.goto(url + path)
            if name == "label":  # answer one run with the keyboard so the judges' verdicts show
                for key in "fpc":
                    page.keyboard.press(key)
                page.wait_for_selector("#answered")
            page.screenshot(path=str(out / f"{name}.png"))
            print(out / f"{name}.png")
        browser.close()
    server.should_exit = True
    thread.join(timeout=30)


if __name__ == "__main__":
    main()
