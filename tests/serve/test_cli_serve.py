"""`kilngit serve` as a command: it prints where it listens, signs raters in with their tokens, and refuses
a raters file kept inside the repository."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from kilngit.project import Project
from tests.serve.conftest import TASK


def test_serve_listens_on_loopback_and_signs_raters_in(serve_project: Project, tmp_path: Path) -> None:
    raters = tmp_path / "raters.yaml"
    raters.write_text("alice-token-0123456789: alice@example.com\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kilngit",
            "-C",
            str(serve_project.root),
            "serve",
            "--port",
            "0",
            "--raters",
            str(raters),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = re.search(r"at (http://127\.0\.0\.1:\d+)", line).group(1)  # type: ignore[union-attr]
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/").status_code == 401
            assert (
                client.get(
                    "/signin", params={"token": "alice-token-0123456789"}, follow_redirects=True
                ).status_code
                == 200
            )
            page = client.get(f"/t/{TASK}/runs")
            assert page.status_code == 200 and "alice@example.com" in page.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_a_raters_file_inside_the_repository_is_refused(serve_project: Project) -> None:
    raters = serve_project.root / "raters.yaml"
    raters.write_text("alice-token-0123456789: alice@example.com\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kilngit", "serve", "--port", "0", "--raters", str(raters)],
        cwd=serve_project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "inside the project" in proc.stderr
