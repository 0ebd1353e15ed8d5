"""Every page on the imported Kiln demo (real model answers), and one label saved there."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from kilngit import layout
from kilngit.project import Project
from kilngit.serve.app import create_app

TOKEN = "demo-token-0123456789"


def test_every_page_on_the_kiln_demo(demo_copy: Path) -> None:
    root = demo_copy
    project = Project(root)
    c = TestClient(create_app(project, {TOKEN: "expert@example.com"}), base_url="http://127.0.0.1")
    c.get(f"/signin?token={TOKEN}")
    for path in ("/", "/evals", "/review?base=HEAD&head=HEAD"):
        assert c.get(path).status_code == 200, path
    tasks = list(project.tasks())
    for task in tasks:
        run_ids = sorted(project.runs(task))
        for path in (
            f"/t/{task}/runs",
            f"/t/{task}/runs?q=rated&sort=rating&desc=1",
            f"/t/{task}/compare",
            f"/t/{task}/runs/{run_ids[len(run_ids) // 2]}",
            f"/t/{task}/label",
            f"/t/{task}/label?queue=disputed",
        ):
            r = c.get(path)
            assert r.status_code == 200, path
            assert 'class="error"' not in r.text, (path, re.findall(r'class="error">([^<]*)', r.text))
    task = tasks[0]
    page = c.get(f"/t/{task}/label").text
    run_id = re.search(r'data-run="([0-9a-f]{16})"', page).group(1)
    value = re.search(r'name="overall" value="([^"]+)"', page).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = c.post(f"/t/{task}/label/rate", data={"csrf": csrf, "run": run_id, "overall": value})
    assert r.status_code == 200, re.findall(r'class="error">([^<]*)', r.text)
    assert (root / layout.annotation_file(task, "expert@example.com", run_id)).is_file()
