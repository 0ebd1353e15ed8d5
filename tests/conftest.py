"""Shared fixtures: real git repositories in temp folders with a pinned identity and an empty global config,
a guard that fails a test which writes to the home folder, ready-made projects, and the real Kiln demo imported
once per session (defined here, not imported into test modules: an imported fixture is a second fixture, and a
session-scoped one would run again for each module that imports it)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kilngit.authoring import new_task
from kilngit.cli.main import main
from kilngit.init import init_project
from kilngit.kiln import ImportReport, import_kiln
from kilngit.project import Project
from kilngit.records import Requirement

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO.parent / "shared" / "kiln_demo" / "end_to_end_project_demo"

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


# Session fixtures too costly to build once per pytest-xdist worker: the tests that use them run in one group.
SHARED_SESSION_FIXTURES = {"demo_import": "kiln-demo"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests in one pytest-xdist worker")


@pytest.hookimpl(wrapper=True)  # marks before pytest-xdist reads them (`--dist loadgroup`), ids after
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Under `pytest -n N --dist loadgroup`, keep a module's tests in one worker when they share a module
    fixture (built once, as without xdist: Ray in tests/evals/test_ray_executor.py, a browser, a judged
    project), and the tests of the Kiln demo's one import in one worker (its import costs ~10 s per worker).
    Without xdist the marks do nothing."""
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs if fixtures else {}
        groups = {group for name, group in SHARED_SESSION_FIXTURES.items() if name in defs}
        if any(d[-1].scope in ("module", "class", "package") for d in defs.values()):
            groups.add(item.nodeid.split("::")[0])
        for group in sorted(groups):
            item.add_marker(pytest.mark.xdist_group(group))
    yield
    # pytest-xdist 3.8 names a grouped test "<id>@<group>" in `item._nodeid`, which pytest 9.2 no longer
    # reads (its `nodeid` comes from `item._id`): without this the groups are silently ignored.
    for item in items:
        renamed = getattr(item, "_nodeid", None)
        if isinstance(renamed, str) and renamed != item.nodeid and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(renamed)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Empty global git config, pinned identity, a throwaway HOME, no provider keys, and a check that
    nothing was written to that HOME (user config belongs outside projects, but tests never touch it)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig-empty"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # Terminal output (rich) is laid out for the size a terminal-less run gets, whatever runs the tests
    # (pytest-xdist workers, for one, are given LINES=24).
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "25")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.endswith("_API_KEY") or key.startswith(("KILNGIT_", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX")):
            monkeypatch.delenv(key, raising=False)
    # This machine's trust record (outside every repository) goes to a folder of this test; test projects are
    # trusted as a whole unless a test says otherwise (`untrusted` fixture).
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    # Nor does a cache or state folder the machine names (XDG_CACHE_HOME set for CI, shared by every worker).
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("KILNGIT_TRUST", "always")
    (home / ".gitconfig-empty").write_text(
        "[user]\n\temail = tester@example.com\n\tname = Tester\n[init]\n\tdefaultBranch = main\n"
    )
    before = sorted(p.name for p in home.iterdir())
    yield home
    after = sorted(p.name for p in home.iterdir())
    assert after == before, f"test wrote to HOME: {sorted(set(after) - set(before))}"


@pytest.fixture
def untrusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust as on a real machine: only what `kilngit trust` recorded (in this test's own store)."""
    monkeypatch.delenv("KILNGIT_TRUST")


def git(cwd: Path, *args: str) -> str:
    """Run git in a test and return stdout (raises on failure)."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise AssertionError(f"git {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def run_cli(*argv: str, stdin: bytes = b"", text: bool = False) -> subprocess.CompletedProcess:
    """`kilngit ARGV` run in this process by `kilngit.cli.main.main`, the code a child runs, with its own stdin,
    stdout and stderr: the exit code and what was written (bytes, or str with `text`), as
    `subprocess.run(..., capture_output=True)` gives them. For tests whose point is not the process boundary
    (a kill, a signal, a pipe, another process's environment, a hang of the child): a `python -m kilngit`
    child costs ~0.5 s of start-up."""
    out, err = io.BytesIO(), io.BytesIO()
    streams = (sys.stdin, sys.stdout, sys.stderr)
    # As in a child with pipes: UTF-8, stdout strict, stderr with backslash escapes (CPython's defaults).
    mine = (
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True),
    )
    sys.stdin, sys.stdout, sys.stderr = mine
    try:
        code = main(list(argv))
        for wrapper in mine[1:]:
            wrapper.flush()
        written = [out.getvalue(), err.getvalue()]
        if text:
            written = [data.decode("utf-8", errors="replace") for data in written]
        return subprocess.CompletedProcess(["kilngit", *argv], code, *written)
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        for wrapper in mine:
            wrapper.detach()  # a collected wrapper would close its buffer


@pytest.fixture(scope="session")
def _template_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("template") / "proj"
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", **GIT_IDENTITY)
    old = dict(os.environ)
    os.environ.update(env)
    try:
        project = init_project(root, name="demo")
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
        subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "init"], cwd=root, check=True, env=env)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return root


@pytest.fixture
def project(_template_project: Path, tmp_path: Path) -> Project:
    """A fresh project (a git repo with one commit) with task `ffmpeg` and two requirements; copied from a
    cached template so each test gets its own."""
    root = tmp_path / "proj"
    shutil.copytree(_template_project, root, symlinks=True)
    return Project(root)


@pytest.fixture(scope="session")
def demo_src() -> Path:
    """The real Kiln demo project (skipped when absent)."""
    if not (DEMO / "project.kiln").is_file():
        pytest.skip(f"the Kiln demo project is not at {DEMO}")
    return DEMO


@pytest.fixture(scope="session")
def bulk_tmp(tmp_path_factory: pytest.TempPathFactory):
    """A folder for tests that write the demo's ~11,000 files: in RAM (/dev/shm) when there is one, so disk
    contention from other processes does not slow the tests down, else a normal temp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="kilngit-kiln-tests-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("bulk")


@pytest.fixture(scope="session")
def demo_import(demo_src: Path, bulk_tmp: Path) -> tuple[Path, ImportReport]:
    """The demo imported into a new project, once per session (tests that change it work on a copy)."""
    root = bulk_tmp / "demo"
    old = dict(os.environ)
    os.environ.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", **GIT_IDENTITY)
    try:
        report = import_kiln(demo_src, root)
    finally:
        os.environ.clear()
        os.environ.update(old)
    return root, report


@pytest.fixture
def demo_copy(demo_import: tuple[Path, ImportReport], bulk_tmp: Path) -> Iterator[Path]:
    """A copy of the imported demo for a test that changes it, in `bulk_tmp` (RAM: copying 11,000 files to a
    busy disk took minutes) and removed after the test."""
    folder = Path(tempfile.mkdtemp(prefix="copy-", dir=bulk_tmp))
    root = shutil.copytree(demo_import[0], folder / "demo", symlinks=True)
    yield root
    shutil.rmtree(folder, ignore_errors=True)
