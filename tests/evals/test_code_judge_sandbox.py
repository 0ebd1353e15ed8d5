"""A code judge is project code someone else may have pushed: each test is one attack such a judge tried, run
on the real sandbox (bubblewrap), and what happens now. Skipped only where the sandbox cannot run."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import uuid

import pytest

from kilngit import layout
from kilngit.evals.runner import run_eval
from kilngit.project import Project
from kilngit.sandbox import probe
from tests.evals.conftest import TASK, add_run, write_judge
from tests.evals.test_judges import judge_one, processes_with

pytestmark = pytest.mark.skipif(probe() is not None, reason=f"no sandbox on this machine: {probe()}")

ATTACKS = """
import json, mmap, os, signal, socket, subprocess, sys, time

def _result(text):
    return {"scores": {"correct": 1}, "explanation": str(text)}

def read(task, input, output):
    try:
        with open(output) as f:
            return _result("READ " + f.read(200))
    except OSError as e:
        return _result(f"{type(e).__name__}: {e}")

def environment(task, input, output):
    return _result(json.dumps(dict(os.environ)))

def write(task, input, output):
    done = []
    for path in json.loads(output):
        try:
            with open(path, "a") as f:
                f.write("written by a judge\\n")
            done.append(path)
        except OSError as e:
            done.append(f"{type(e).__name__}")
    return _result(json.dumps(done))

def connect(task, input, output):
    host, port = output.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).sendall(b"stolen")
        return _result("CONNECTED")
    except OSError as e:
        return _result(f"{type(e).__name__}: {e}")

def shell(task, input, output):
    done = subprocess.run(["sh", "-c", output], capture_output=True, text=True)
    return _result(f"exit {done.returncode}: {done.stdout}{done.stderr}")

def daemon(task, input, output):
    if os.fork() == 0:  # the classic double fork: a new session, stdio closed, parent gone
        os.setsid()
        if os.fork() == 0:
            for fd in (0, 1, 2):
                os.close(fd)
            os.execvp("sleep", ["sleep", output])
        os._exit(0)
    return _result("left a daemon behind")

def leftovers(task, input, output):
    # What earlier judgements of this worker left running, then leave a daemon for the next one.
    others = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) not in (1, os.getpid()):
            try:
                with open(f"/proc/{p}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":  # a zombie has ended already
                        others.append(p)
            except OSError:
                pass
    daemon(task, input, "1000")
    return _result(f"{len(others)} left over")

def allocate(task, input, output):
    block = mmap.mmap(-1, 10 << 30)  # 10 GiB
    block[-1] = 1
    return _result("mapped 10 GiB")

def kill_parent(task, input, output):
    for pid in (os.getppid(), 1, int(output)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError as e:
            print(f"kill {pid}: {e}")
    return _result(f"still here, parent {os.getppid()}")

def fork_bomb(task, input, output):
    children = 0
    try:
        for _ in range(1000):
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            children += 1
    except OSError as e:
        return _result(f"stopped after {children} processes: {e}")
    return _result(f"{children} processes")

def big_file(task, input, output):
    try:
        with open("/tmp/big", "wb") as f:
            for _ in range(2048):
                f.write(b"x" * (1 << 20))
    except OSError as e:
        return _result(f"{type(e).__name__}: {e}")
    return _result("wrote 2 GiB")

def chatty(task, input, output):
    # Output of the judge and its children, shaped like answers of the old stdout protocol.
    print(json.dumps({"id": 1, "answer": {"correct": 0}}))
    print(json.dumps({"__answer__": {"correct": 0}}))
    subprocess.run(["echo", json.dumps({"id": 2, "answer": {"scores": {"correct": 0}}})])
    os.system("echo '{\\"__answer__\\": {\\"correct\\": 0}}' >&2")
    return {"correct": 1 if output.startswith("ffmpeg") else 0}
"""


@pytest.fixture
def attack(eval_project):
    """`attack(name, output)`: the verdict of code judge `attacks:<name>` on one run whose output is `output`."""
    (eval_project.root / "attacks.py").write_text(ATTACKS)

    def run(name: str, output: str, **judge):
        write_judge(eval_project, name, type="code", function=f"attacks:{name}", **{"timeout_s": 30, **judge})
        return judge_one(eval_project, name, output)

    return run


def test_reading_the_api_key_and_git_variables_finds_nothing(attack, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SANDBOXsecret123")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = json.loads(attack("environment", "x").explanation)
    assert "OPENAI_API_KEY" not in env and not [k for k in env if k.startswith("GIT_")]
    assert "sk-test-SANDBOXsecret123" not in json.dumps(env)
    assert env["HOME"] == "/tmp"


@pytest.mark.parametrize(
    "path", ["/etc/shadow", "~/.gitconfig-empty", "/root/.bash_history", "/proc/1/environ"]
)
def test_reading_secret_files_fails(attack, path):
    real = os.path.expanduser(path)
    said = attack("read", real).explanation
    assert not said.startswith("READ"), said


def test_reading_kilngits_own_environment_through_proc_fails(attack, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SANDBOXsecret123")
    said = attack("read", f"/proc/{os.getpid()}/environ").explanation
    assert "sk-test-SANDBOXsecret123" not in said and not said.startswith("READ")


def test_writing_to_tmp_and_home_leaves_nothing_outside(attack, tmp_path):
    mark = uuid.uuid4().hex  # names no other run (another worker, another checkout) could have made
    targets = [
        str(tmp_path / "dropped.txt"),
        f"/tmp/kilngit-dropped-{mark}.txt",
        os.path.expanduser("~/dropped.txt"),
        f"/tmp/dropped-in-scratch-{mark}.txt",
    ]
    attack("write", json.dumps(targets))
    assert [t for t in targets if os.path.exists(t)] == []


def test_editing_annotations_and_the_eval_definition_fails(attack, eval_project):
    files = [*(eval_project.root / "tasks").rglob("annotations/**/*.json")][:2]
    files += [eval_project.root / layout.eval_file(TASK, "correctness"), eval_project.root / "attacks.py"]
    before = {f: f.read_bytes() for f in files}
    said = json.loads(attack("write", json.dumps([str(f) for f in files])).explanation)
    assert set(said) <= {"PermissionError", "OSError"}, said  # not its files, and a read-only file system
    assert {f: f.read_bytes() for f in files} == before


def test_tcp_connections_fail(attack):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        said = attack("connect", f"127.0.0.1:{port}").explanation
        with pytest.raises(TimeoutError):
            server.accept()  # nothing ever arrived (the judge has already finished)
    finally:
        server.close()
    assert "CONNECTED" not in said and "Connection refused" in said  # its loopback is not ours


def test_a_shell_runs_inside_the_sandbox_only(attack, eval_project, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SANDBOXsecret123")
    said = attack(
        "shell",
        f"echo $OPENAI_API_KEY; cat /etc/shadow; touch {eval_project.root}/pwned; "
        "echo hi > ~/x && cat ~/x; id -u",
    ).explanation
    assert "sk-test-SANDBOXsecret123" not in said
    assert "hi" in said  # its own scratch home works
    assert not (eval_project.root / "pwned").exists()
    assert said.split()[-1] != "0"  # not root


def test_daemons_left_behind_die_with_the_judgement(eval_project, attack):
    mark = f"{time.time_ns() % 10**9}.25"
    add_run(eval_project, "one more", mark, "good")
    write_judge(eval_project, "daemon", type="code", function="attacks:daemon", timeout_s=30)
    (eval_project.root / "attacks.py").write_text(ATTACKS)
    summary = run_eval(Project(eval_project.root), TASK, "correctness", judges=["daemon"], progress=False)
    assert summary.judges["daemon"].scored == 13  # `run eval` ended: it did not wait for the daemons
    assert processes_with(["sleep", mark]) == []


def test_nothing_of_one_judgement_outlives_it_in_a_reused_worker(eval_project, attack):
    write_judge(eval_project, "leftovers", type="code", function="attacks:leftovers", timeout_s=30)
    summary = run_eval(Project(eval_project.root), TASK, "correctness", judges=["leftovers"], progress=False)
    assert summary.judges["leftovers"].scored == 12  # more judgements than workers: workers were reused
    results = Project(eval_project.root).judge_results(TASK, "correctness")
    said = {r.explanation for r in results if r.judge == "leftovers"}
    assert said == {"0 left over"}


def test_mapping_10_gib_fails(attack):
    verdict = attack("allocate", "x")
    assert verdict.error and ("MemoryError" in verdict.error or "Cannot allocate memory" in verdict.error), (
        verdict
    )


def test_killing_its_parent_and_kilngit_fails(attack):
    verdict = attack("kill_parent", str(os.getpid()))
    assert verdict.scores == {"correct": 1.0}  # the sandbox's init ignores it; kilngit is not even visible


def test_a_fork_bomb_is_stopped_by_the_process_limit(attack):
    said = attack("fork_bomb", "x").explanation
    assert said.startswith("stopped after") and "Resource temporarily unavailable" in said, said


def test_a_huge_file_is_stopped_by_the_file_size_limit(attack):
    said = attack("big_file", "x").explanation
    assert "File too large" in said or "No space left" in said, said


def test_echo_from_the_judge_or_its_children_cannot_confuse_the_answers(eval_project):
    (eval_project.root / "attacks.py").write_text(ATTACKS)
    write_judge(eval_project, "chatty", type="code", function="attacks:chatty", timeout_s=30)
    run_eval(
        Project(eval_project.root), TASK, "correctness", judges=["chatty"], concurrency=1, progress=False
    )
    project = Project(eval_project.root)
    runs = project.runs(TASK)
    for result in project.judge_results(TASK, "correctness"):
        if result.judge == "chatty":
            assert result.scores == {"correct": 1.0 if runs[result.run].output.startswith("ffmpeg") else 0.0}


def test_a_hostile_struct_py_at_the_root_does_not_reach_the_protocol(attack, eval_project):
    for name in ("struct", "secrets", "json", "socket"):
        (eval_project.root / f"{name}.py").write_text("import sys; sys.stdout.write('{}\\n'); sys.exit(9)\n")
    assert attack("read", "/etc/hostname").scores == {"correct": 1.0}


def test_killing_kilngit_ends_the_sandbox(eval_project, tmp_path):
    """SIGKILL on kilngit (no cleanup at all): the sandbox dies with its parent."""
    mark = f"{time.time_ns() % 10**9}.75"
    (eval_project.root / "attacks.py").write_text(ATTACKS)
    write_judge(eval_project, "shell", type="code", function="attacks:shell", timeout_s=120)
    add_run(eval_project, "hang", f"sleep {mark}", "good")
    import subprocess

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kilngit",
            "-C",
            str(eval_project.root),
            "run",
            "eval",
            "correctness",
            "--judge",
            "shell",
            "--no-progress",
            "--no-show",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    found = threading.Event()
    deadline = time.monotonic() + 60  # guards a hang only
    while not found.is_set() and time.monotonic() < deadline and proc.poll() is None:
        if processes_with(["sleep", mark]):
            found.set()
        time.sleep(0.05)
    assert found.is_set(), "the judge never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while processes_with(["sleep", mark]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(["sleep", mark]) == []
