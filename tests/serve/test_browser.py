"""The web app in a real browser: Debian's Chromium driven by Playwright, against uvicorn on 127.0.0.1.

Waits are Playwright's event-driven `expect` (it retries until the page says what is expected); the long
timeout only guards against a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kilngit.project import Project
from tests.conftest import git
from tests.serve.conftest import ALICE, HOSTILE, TASK, Running, annotation_path

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
CHROMIUM = Path(os.environ.get("KILNGIT_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HANG_GUARD_MS = 60_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    # One browser for the module, started before the tests' own HOME exists: Chromium writes its caches
    # under a HOME, so it gets one of its own rather than the real one.
    home = tmp_path_factory.mktemp("browser-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, env=env)
        yield b
        b.close()


@pytest.fixture
def page(browser, live: Running):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    page.goto(live.signin())
    yield page
    context.close()


expect = sync_api.expect
expect.set_options(timeout=HANG_GUARD_MS)  # its own default (5 s) is too short on a busy machine


def test_browse_filter_open_and_label_three_runs_with_the_keyboard(page, live: Running) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator("h1")).to_have_text("demo")
    page.click(f"a[href='/t/{TASK}/runs']")
    page.fill("input[name=q]", "config::good & !rated")
    page.press("input[name=q]", "Enter")
    expect(page.locator("#runs .hint").first).to_contain_text("6 of 15 runs match")
    page.locator("a.run").first.click()
    expect(page.locator("h1")).to_contain_text("Run")
    expect(page.locator("body")).to_contain_text("has-ffmpeg")

    page.goto(f"{live.url}/t/{TASK}/label?q=config::bad")
    labeled: list[str] = []
    # Rating the last row saves; Enter saves with rows left unrated.
    for keys in (["p", "p", "p"], ["f", "f", "c"], ["3", "j", "k", "p", "Enter"]):
        form = page.locator("#label-form")
        if labeled:
            expect(form).not_to_have_attribute("data-run", labeled[-1])
        run_id = form.get_attribute("data-run")
        for key in keys:
            page.keyboard.press(key)
        expect(page.locator(".saved-file")).to_contain_text(run_id)
        expect(page.locator("#answered")).to_contain_text("what the judges said")
        labeled.append(run_id)
    assert len(set(labeled)) == 3

    saved = [json.loads(annotation_path(live.project, ALICE, r).read_text()) for r in labeled]
    assert [a["rating"] for a in saved] == [
        {"type": "pass_fail", "value": 1},
        {"type": "pass_fail", "value": 0},
        {"type": "five_star", "value": 3},
    ]
    assert saved[1]["requirements"]["no_destructive_actions"] == {"type": "pass_fail_critical", "value": -1}
    assert saved[2]["requirements"] == {"correct_command": {"type": "pass_fail", "value": 1}}
    assert all(isinstance(a["seconds_on_item"], (int, float)) and a["rater"] == ALICE for a in saved)

    git(live.project.root, "add", "-A")
    git(live.project.root, "commit", "-qm", "labels from the browser")
    out = subprocess.run(
        [sys.executable, "-m", "kilngit", "review", "HEAD~1..HEAD"],
        cwd=live.project.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert all(r in out for r in labeled) and ALICE in out
    page.goto(f"{live.url}/review?base=HEAD~1&head=HEAD")
    for r in labeled:
        expect(page.locator("body")).to_contain_text(r)


def test_undo_with_the_keyboard_restores_the_file(page, live: Running) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/t/{TASK}/label")
    run_id = page.locator("#label-form").get_attribute("data-run")
    for key in "ppp":
        page.keyboard.press(key)
    expect(page.locator(".saved-file")).to_contain_text(run_id)
    assert annotation_path(live.project, ALICE, run_id).exists()
    page.keyboard.press("u")
    expect(page.locator(".message")).to_contain_text("undone")
    expect(page.locator("#label-form")).to_have_attribute("data-run", run_id)
    assert not annotation_path(live.project, ALICE, run_id).exists()


def test_script_and_img_onerror_in_outputs_stay_inert(page, live: Running) -> None:  # type: ignore[no-untyped-def]
    hostile = next(r for r in Project(live.project.root).runs(TASK).values() if r.output == HOSTILE)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (
        f"/t/{TASK}/runs/{hostile.id}",
        f"/t/{TASK}/label?run={hostile.id}",
        f"/t/{TASK}/runs",
        f"/t/{TASK}/compare",
    ):
        page.goto(live.url + path)
        expect(page.locator("main")).to_contain_text("<script>window.pwned = 1</script>")
        page.locator("main").hover()
        assert page.evaluate("window.pwned") is None, path
        assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    assert dialogs == []


def test_a_write_without_the_csrf_token_is_refused(page, live: Running) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/t/{TASK}/label")
    run_id = page.locator("#label-form").get_attribute("data-run")
    status = page.evaluate(
        """async (run) => {
        const body = new URLSearchParams({run: run, overall: "pass"});
        const r = await fetch("/t/ffmpeg/label/rate", {method: "POST", body: body});
        return r.status;
    }""",
        run_id,
    )
    assert status == 403
    assert (
        page.request.post(f"{live.url}/t/{TASK}/label/rate", form={"run": run_id, "overall": "pass"}).status
        == 403
    )
    assert not annotation_path(live.project, ALICE, run_id).exists()
