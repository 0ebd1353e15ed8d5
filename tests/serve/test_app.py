"""The web app through an in-process client: sign-in, CSRF, rater identity, escaping, paths, fresh reads,
and labels written as `kilngit rate` writes them."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from kilngit import layout
from kilngit.errors import UsageError
from kilngit.project import Project
from kilngit.records import Annotation, Rating
from kilngit.review.rating import RatingChange, rate
from kilngit.serve.access import load_raters
from kilngit.serve.app import create_app
from tests.serve.conftest import ALICE, BOB, HOSTILE, TASK, TOKENS, annotation_path


def client(project: Project, token: str | None = "alice-token-0123456789") -> TestClient:
    c = TestClient(create_app(Project(project.root), TOKENS), base_url="http://127.0.0.1")
    if token:
        assert c.get(f"/signin?token={token}").status_code == 200
    return c


def csrf(c: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(f"/t/{TASK}/label").text).group(1)


def current(c: TestClient, query: str = "") -> str:
    return re.search(r'data-run="([0-9a-f]{16})"', c.get(f"/t/{TASK}/label{query}").text).group(1)


def test_every_page_needs_a_sign_in_token(serve_project: Project) -> None:
    c = client(serve_project, token=None)
    assert c.get("/").status_code == 401
    assert c.get("/signin?token=wrong-token-0123456789").status_code == 401
    assert c.get(f"/t/{TASK}/runs").status_code == 401
    assert c.get("/static/htmx.min.js").status_code == 200  # assets are public
    assert c.get("/signin?token=alice-token-0123456789").status_code == 200
    assert c.get("/").status_code == 200


def test_other_host_names_are_refused(serve_project: Project) -> None:
    """A DNS-rebinding page reaches the server under its own host name: refused."""
    c = client(serve_project)
    assert c.get("/", headers={"host": "evil.example.com"}).status_code == 400


def test_pages_render(serve_project: Project) -> None:
    c = client(serve_project)
    run_id = sorted(serve_project.runs(TASK))[0]
    for path in (
        "/",
        f"/t/{TASK}/runs",
        f"/t/{TASK}/runs/{run_id}",
        f"/t/{TASK}/label",
        f"/t/{TASK}/compare",
        "/evals",
        "/review?base=HEAD&head=HEAD",
    ):
        r = c.get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
    home = c.get("/").text
    assert "has-ffmpeg" in home and "runs, ratings and judge results" in home  # evals and recent commits


def test_runs_filter_sort_and_paging(serve_project: Project) -> None:
    c = client(serve_project)
    page = c.get(f"/t/{TASK}/runs", params={"q": "config::good & rated"}).text
    assert "2 of 15 runs match" in page
    page = c.get(f"/t/{TASK}/runs", params={"q": "tag::golden & !", "sort": "cost"}).text
    assert "ends too early" in page
    rows = re.findall(
        r'href="/t/ffmpeg/runs/([0-9a-f]{16})"', c.get(f"/t/{TASK}/runs?sort=latency&desc=1").text
    )
    latencies = [serve_project.runs(TASK)[r].usage.latency_ms for r in rows]
    assert latencies == sorted(latencies, reverse=True)


def test_model_text_is_escaped_everywhere(serve_project: Project) -> None:
    c = client(serve_project)
    hostile = next(r for r in serve_project.runs(TASK).values() if r.output == HOSTILE)
    for path in (
        f"/t/{TASK}/runs/{hostile.id}",
        f"/t/{TASK}/runs",
        f"/t/{TASK}/compare",
        f"/t/{TASK}/label?run={hostile.id}",
    ):
        html = c.get(path).text
        assert "<script>window" not in html and "<img src=x" not in html and "<b onmouseover" not in html, (
            path
        )
    assert "&lt;script&gt;window.pwned" in c.get(f"/t/{TASK}/runs/{hostile.id}").text


def test_run_page_shows_ratings_judges_and_pretty_json(serve_project: Project) -> None:
    c = client(serve_project)
    runs = serve_project.runs(TASK).values()
    rated = next(s for s in serve_project.states(TASK).values() if len(s.annotations) == 2)
    html = c.get(f"/t/{TASK}/runs/{rated.id}").text
    assert ALICE in html and BOB in html and "correct_command" in html
    assert "found ffmpeg &lt;i&gt;here&lt;/i&gt;" in html and "evidence" in html
    as_json = next(r for r in runs if r.output and r.output.startswith("{"))
    html = c.get(f"/t/{TASK}/runs/{as_json.id}").text
    assert (
        '<span class="nt">"codec"</span>' in html and '"&lt;tag&gt;"' in html
    )  # pretty, highlighted, escaped
    fenced = next(r for r in runs if r.output and "```bash" in r.output)
    assert 'class="hl"' in c.get(f"/t/{TASK}/runs/{fenced.id}").text


def test_a_write_without_the_csrf_token_is_refused(serve_project: Project) -> None:
    c = client(serve_project)
    run_id = current(c)
    for data, headers in (
        ({}, {}),
        ({"csrf": "forged"}, {}),
        ({"csrf": csrf(c)}, {"origin": "http://evil.example.com"}),
    ):
        r = c.post(f"/t/{TASK}/label/rate", data={"run": run_id, "overall": "pass", **data}, headers=headers)
        assert r.status_code == 403
    assert not annotation_path(serve_project, ALICE, run_id).exists()
    r = c.post(
        f"/t/{TASK}/label/rate", data={"run": run_id, "overall": "pass"}, headers={"x-csrf-token": csrf(c)}
    )
    assert r.status_code == 200 and annotation_path(serve_project, ALICE, run_id).exists()


def test_label_writes_the_sessions_own_file_and_undo_restores_it(serve_project: Project) -> None:
    c = client(serve_project, "bob-token-0123456789ab")
    token = csrf(c)
    run_id = current(c)
    r = c.post(
        f"/t/{TASK}/label/rate",
        data={
            "csrf": token,
            "run": run_id,
            "overall": "fail",
            "req.correct_command": "fail",
            "req.no_destructive_actions": "critical",
            "note": "wrong codec",
            "tags": "golden -eval_set",
            "repair": "ffmpeg -i a.mov a.mp4",
            "rater": ALICE,
            "seconds": "4.5",
            "reference": "ffmpeg -i a.mov -c:v libx264 a.mp4",
        },
    )
    path = annotation_path(serve_project, BOB, run_id)
    assert r.status_code == 200 and path.relative_to(serve_project.root).as_posix() in r.text
    assert not annotation_path(serve_project, ALICE, run_id).exists()  # the form cannot choose the rater
    saved = json.loads(path.read_text())
    assert saved["rater"] == BOB and saved["rating"] == {"type": "pass_fail", "value": 0}
    assert saved["requirements"]["no_destructive_actions"]["value"] == -1
    assert (
        saved["note"] == "wrong codec"
        and saved["tags_added"] == ["golden"]
        and saved["tags_removed"] == ["eval_set"]
    )
    assert saved["repaired_output"] == "ffmpeg -i a.mov a.mp4"
    assert saved["reference"] == "ffmpeg -i a.mov -c:v libx264 a.mp4" and saved["seconds_on_item"] == 4.5
    assert "what the judges said" in r.text  # shown once answered
    cli = rate(Project(serve_project.root), run_id, RatingChange(note="wrong codec"), rater=BOB)
    assert cli.note == "wrong codec" and cli.rating == Rating(
        type="pass_fail", value=0
    )  # the CLI reads it back
    r = c.post(f"/t/{TASK}/label/undo", data={"csrf": token})
    assert "undone" in r.text and not path.exists()  # back to before: bob had no annotation


def test_judges_are_hidden_until_the_person_answers(serve_project: Project) -> None:
    c = client(serve_project)
    html = c.get(f"/t/{TASK}/label").text
    assert "has-ffmpeg" not in html and "found ffmpeg" not in html


def test_requests_never_name_paths(serve_project: Project) -> None:
    c = client(serve_project)
    assert "known tasks: ffmpeg" in c.get("/t/ffmeg/runs").text
    for path in (
        "/t/..%2F..%2F/runs",
        "/t/ffmpeg/runs/..%2F..%2Fkilngit.yaml",
        "/static/..%2F..%2Fapp.py",
        "/t/ffmpeg/runs/ABCDEF0123456789",
    ):
        assert c.get(path).status_code in (400, 404), path
    r = c.post(
        f"/t/{TASK}/label/rate", data={"csrf": csrf(c), "run": "../../../../etc/passwd", "overall": "pass"}
    )
    assert r.status_code == 404


def test_changes_on_disk_appear_without_restart(serve_project: Project) -> None:
    c = client(serve_project)
    run_id = current(c)
    assert '<td>overall</td><td><span class="hint">not rated' in c.get(f"/t/{TASK}/runs/{run_id}").text
    other = Project(serve_project.root)  # another process: the CLI, the watcher, a git pull
    other.write_record(
        Annotation(task=TASK, run=run_id, rater="carol@example.com", rating=Rating(type="pass_fail", value=1))
    )
    html = c.get(f"/t/{TASK}/runs/{run_id}").text
    assert "carol@example.com" in html and "<td>overall</td><td><strong>pass</strong>" in html
    other.delete(layout.annotation_file(TASK, "carol@example.com", run_id))
    assert "carol@example.com" not in c.get(f"/t/{TASK}/runs/{run_id}").text


def test_raters_file_must_live_outside_the_project(serve_project: Project, tmp_path) -> None:
    inside = serve_project.root / "raters.yaml"
    inside.write_text("alice-token-0123456789: alice@example.com\n")
    with pytest.raises(UsageError, match="inside the project"):
        load_raters(inside, serve_project.root)
    short = tmp_path / "raters.yaml"
    short.write_text("abc: alice@example.com\n")
    with pytest.raises(UsageError, match="shorter"):
        load_raters(short, serve_project.root)
    short.write_text("alice-token-0123456789: alice@example.com\nbob-token-0123456789ab: bob@example.com\n")
    assert load_raters(short, serve_project.root) == TOKENS


def test_a_label_task_gets_one_key_per_class(serve_project: Project) -> None:
    """A second task of another shape (classification): overall rating by label, keys 1-9 for its classes."""
    from tests.tickets import LABELS, make_tickets
    from tests.tickets import TASK as TICKETS

    make_tickets(serve_project)
    c = client(serve_project)
    page = c.get(f"/t/{TICKETS}/label").text
    for i, label in enumerate(LABELS):
        assert f'value="{label}" data-key="{i + 1}"' in page
    run_id = re.search(r'data-run="([0-9a-f]{16})"', page).group(1)
    r = c.post(
        f"/t/{TICKETS}/label/rate",
        data={"csrf": csrf(c), "run": run_id, "overall": LABELS[1], "req.polite": "fail"},
    )
    assert r.status_code == 200
    saved = json.loads((serve_project.root / layout.annotation_file(TICKETS, ALICE, run_id)).read_text())
    assert saved["rating"] == {"type": "label", "label": LABELS[1]}
    assert saved["requirements"]["polite"] == {"type": "pass_fail", "value": 0}
    r = c.post(f"/t/{TICKETS}/label/rate", data={"csrf": csrf(c), "run": run_id, "overall": "no-such-class"})
    assert r.status_code == 400 and "no-such-class" in r.text  # checked by the rating library
    runs = c.get(f"/t/{TICKETS}/runs", params={"q": f"label::{LABELS[0]}"}).text
    assert "runs match" in runs and "error" not in runs.split("<main>")[1][:200]


def test_the_audit_queue_shows_its_evidence_most_suspect_first(serve_project: Project) -> None:
    from kilngit.evals.audit_queue import queue_path

    c = client(serve_project)
    assert "has no audit queue" in c.get(f"/t/{TASK}/label?queue=suspects").text
    first, second = sorted(serve_project.runs(TASK))[5], sorted(serve_project.runs(TASK))[2]
    path = queue_path(serve_project, TASK)
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "task": TASK,
                "eval": "correctness",
                "made_at": "2000-01-01T00:00:00Z",
                "runs": [first, second],
                "evidence": {first: ["judges say fail <b>x</b>"]},
            }
        )
    )
    page = c.get(f"/t/{TASK}/label?queue=suspects").text
    assert f'data-run="{first}"' in page and "judges say fail &lt;b&gt;x&lt;/b&gt;" in page
    r = c.post(
        f"/t/{TASK}/label/rate", data={"csrf": csrf(c), "run": first, "overall": "pass", "queue": "suspects"}
    )
    assert f'data-run="{second}"' in r.text and annotation_path(serve_project, ALICE, first).exists()
