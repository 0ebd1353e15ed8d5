"""`run eval --executor ray` against a real local Ray instance (started once for this module): the same
results as the local process pool, the worker's sandbox still in force, resuming after kill -9, and the
cluster's failures as judgement errors or clear command errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kilngit import layout
from kilngit.evals.executors.ray_cluster import RayExecutor
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.records import Eval, Judge
from kilngit.sandbox import probe
from tests.evals.conftest import write_judge
from tests.evals.test_labels import CODE as ROUTE_JUDGE
from tests.evals.test_run_eval import result_files
from tests.tickets import TASK as TICKETS_TASK
from tests.tickets import make_tickets

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(probe() is not None, reason=f"no sandbox on this machine: {probe()}")

PROBES = """
import json, os, socket, time

def _result(text):
    return {"scores": {"correct": 1}, "explanation": str(text)}

SECRET, PORT = None, None  # set by the test that uses them

def read(task, input, output):
    try:
        with open(SECRET) as f:
            return _result("READ " + f.read(200))
    except OSError as e:
        return _result(type(e).__name__)

def connect(task, input, output):
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=5).sendall(b"stolen")
        return _result("CONNECTED")
    except OSError as e:
        return _result(type(e).__name__)

def attacks(task, input, output):
    found = {name: globals()[name](task, input, output)["explanation"] for name in ("read", "connect")}
    return _result(json.dumps({**found, "files": sorted(os.listdir("."))}))

def slow_on_delete(task, input, output):
    if "delete" in input:
        try:
            import judgelib.release  # shipped only once the test writes it
        except ImportError:
            time.sleep(60)
    return {"correct": 1.0 if output.startswith(("ffmpeg", "I can't")) else 0.0}
"""


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory):
    """One local Ray instance for the module; its address for subprocesses. Four logical CPUs (four judge
    slots) on any machine, so two judgements held back by a test leave two slots for the rest. It starts
    before the tests' own HOME is set up, so it gets a HOME of its own (Ray keeps its token in ~/.ray)."""
    home = tmp_path_factory.mktemp("ray-home")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))
        # "local": a new instance, never one `ray start` (or RAY_ADDRESS) left on this machine.
        ray.init(
            address="local",
            num_cpus=4,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=80 << 20,
        )
        token = home / ".ray" / "auth_token"
        if token.exists():  # Ray's token authentication: subprocesses connect with the same token
            env.setenv("RAY_AUTH_TOKEN_PATH", str(token))
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()


def results(project: Project, judge: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in result_files(project, judge)}


def probes(project: Project, **constants: object) -> None:
    settings = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    (project.root / "judgelib" / "probes.py").write_text(textwrap.dedent(PROBES) + settings)


def test_same_results_as_the_process_pool(eval_project, tmp_path, ray_address):
    twin = Project(shutil.copytree(eval_project.root, tmp_path / "twin", symlinks=True))
    local = run_eval(Project(eval_project.root), None, "correctness", progress=False)
    remote = run_eval(twin, None, "correctness", executor="ray", progress=False)
    assert remote.judges["exec"].scored == local.judges["exec"].scored == 12
    assert results(twin, "exec") == results(eval_project, "exec")
    again = run_eval(twin, None, "correctness", executor="ray", progress=False)
    assert again.judges["exec"].scored == 0 and again.judges["exec"].skipped == 12


def test_a_classification_judge_gets_the_same_labels_and_references(project, tmp_path, ray_address):
    """A task of another shape (ticket routing, label scores): the human label and reference travel with each
    request, and the verdicts are the process pool's."""
    make_tickets(project)
    (project.root / "ticketjudge.py").write_text(textwrap.dedent(ROUTE_JUDGE))
    scores = [
        {"name": "category", "type": "label", "instruction": "Which class the answer names."},
        {"name": "correct", "instruction": "The answer is the right class.", "human_rating": "overall"},
    ]
    project.write_definition(layout.eval_file(TICKETS_TASK, "routing"), Eval(name="routing", scores=scores))
    project.write_definition(
        layout.judge_file(TICKETS_TASK, "routing", "code"),
        Judge(type="code", function="ticketjudge:route", timeout_s=20),
    )
    twin = Project(shutil.copytree(project.root, tmp_path / "twin", symlinks=True))
    local = run_eval(Project(project.root), TICKETS_TASK, "routing", progress=False)
    remote = run_eval(twin, TICKETS_TASK, "routing", executor="ray", progress=False)
    assert remote.judges["code"].scored == local.judges["code"].scored > 0
    folder = layout.eval_file(TICKETS_TASK, "routing").rsplit("/", 1)[0] + "/results"
    mine = {p.name: p.read_bytes() for p in (project.root / folder).rglob("*.json")}
    assert {p.name: p.read_bytes() for p in (twin.root / folder).rglob("*.json")} == mine
    assert any(b"human says" in data and b"reference None" not in data for data in mine.values())


def test_the_sandbox_holds_on_the_worker(eval_project, tmp_path, ray_address):
    """Reading a file outside the project and connecting to a listening loopback port are refused the same
    way as locally; and the worker holds the project's code only."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the launch codes")
    listener = socket.create_server(("127.0.0.1", 0))
    probes(eval_project, SECRET=str(secret), PORT=listener.getsockname()[1])
    write_judge(eval_project, "attacks", type="code", function="judgelib.probes:attacks", timeout_s=20)
    said = {}
    try:
        for executor in ("local", "ray"):
            judged = run_eval(
                Project(eval_project.root),
                None,
                "correctness",
                judges=["attacks"],
                executor=executor,
                progress=False,
            )
            assert judged.judges["attacks"].scored == 12
            said[executor] = {
                json.loads(p.read_text())["explanation"] for p in result_files(eval_project, "attacks")
            }
            for path in result_files(eval_project, "attacks"):
                path.unlink()
    finally:
        listener.close()
    (remote,), (local,) = said["ray"], said["local"]
    remote, local = json.loads(remote), json.loads(local)
    assert remote["read"] == local["read"] == "FileNotFoundError"
    assert remote["connect"] == local["connect"] != "CONNECTED"
    assert remote["files"] == ["judgelib"]  # code only: no kilngit.yaml, no tasks/, no records
    assert "kilngit.yaml" in local["files"]


def test_a_killed_run_resumes_and_a_rerun_is_a_no_op(eval_project, ray_address):
    probes(eval_project)
    write_judge(eval_project, "exec", type="code", function="judgelib.probes:slow_on_delete", timeout_s=120)
    command = [
        sys.executable,
        "-m",
        "kilngit",
        "-C",
        str(eval_project.root),
        "run",
        "eval",
        "correctness",
        "--judge",
        "exec",
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
        "--no-progress",
        "--no-show",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 300  # guards a hang only: Ray starts workers slowly on a busy machine
    while (
        len(result_files(eval_project, "exec")) < 10 and time.monotonic() < deadline and proc.poll() is None
    ):
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)  # two judgements (the "delete" input's runs) are in flight
    proc.wait()
    done = results(eval_project, "exec")
    assert 10 <= len(done) < 12
    (eval_project.root / "judgelib" / "release.py").write_text("")
    resumed = run_eval(
        Project(eval_project.root), None, "correctness", judges=["exec"], executor="ray", progress=False
    )
    assert resumed.judges["exec"].skipped == len(done)
    assert resumed.judges["exec"].scored == 12 - len(done)
    after = results(eval_project, "exec")
    assert len(after) == 12 and all(after[name] == data for name, data in done.items())
    again = run_eval(
        Project(eval_project.root), None, "correctness", judges=["exec"], executor="ray", progress=False
    )
    assert again.judges["exec"].scored == 0 and again.judges["exec"].skipped == 12


def test_a_worker_without_the_sandbox_stops_the_eval_with_what_to_install(eval_project, ray_address):
    executor = RayExecutor(runtime_env={"env_vars": {"KILNGIT_BWRAP": "/nonexistent/bwrap"}})
    try:
        summary = run_eval(
            Project(eval_project.root),
            None,
            "correctness",
            judges=["exec"],
            executor=executor,
            concurrency=1,
            progress=False,
        )
    finally:
        executor.close()
    assert summary.fatal is not None and "cannot run code judges in the sandbox" in str(summary.fatal)
    assert "bubblewrap" in str(summary.fatal)
    assert not result_files(eval_project, "exec")


def test_a_worker_that_dies_mid_judgement_leaves_it_not_recorded(eval_project, ray_address):
    probes(eval_project)
    write_judge(eval_project, "exec", type="code", function="judgelib.probes:slow_on_delete", timeout_s=120)
    executor = RayExecutor()
    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.setdefault(
            "summary",
            run_eval(
                Project(eval_project.root),
                None,
                "correctness",
                judges=["exec"],
                executor=executor,
                progress=False,
            ),
        )
    )
    worker.start()
    deadline = time.monotonic() + 300
    while len(result_files(eval_project, "exec")) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    for slot in list(executor.slots_made):  # the two slots still busy are judging the "delete" runs
        ray.kill(slot)
    worker.join(timeout=300)
    executor.close()
    summary = outcome["summary"]
    assert summary.judges["exec"].scored == 10
    assert summary.judges["exec"].not_recorded == {"connection": 2}
    assert "Ray worker" in summary.judges["exec"].examples["connection"][0]
    assert len(result_files(eval_project, "exec")) == 10
