"""kilngit/_nofollow.py: the one-call open of a bulk read must refuse whatever the usual open + /proc check
refuses (symlinked folders and files, `..`, a folder swapped for a symlink) and read the same bytes
otherwise. Each case is read both ways by `_io.read_bytes_and_stat` and the outcomes compared."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kilngit import _io, _nofollow
from kilngit._io import ReadError, read_bytes_and_stat

_OPENER = _nofollow._setup()
needs_openat2 = pytest.mark.skipif(_OPENER is None, reason="no openat2 here (not Linux 5.6+, or refused)")


def _outcome(path: str, root: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setattr(_nofollow, "_state", -1)
    monkeypatch.setattr(_nofollow, "_opener", _OPENER if fast else None)
    try:
        data, st = read_bytes_and_stat(path, root, 1 << 20)
    except ReadError as e:
        return ("error", str(e), e.fix)
    return ("read", data, st.st_ino, st.st_size)


def _same_both_ways(path: str, root: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    slow = _outcome(path, root, False, monkeypatch)
    assert _outcome(path, root, True, monkeypatch) == slow, path
    return slow


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "project", tmp_path / "outside"
    (root / "tasks/t/runs/ab/cd").mkdir(parents=True)
    (root / "tasks/t/runs/ab/cd/x.json").write_text('{"in": "project"}\n')
    (outside / "cd").mkdir(parents=True)
    (outside / "cd/x.json").write_text('{"in": "outside"}\n')
    (outside / "secret.json").write_text('{"secret": 1}\n')
    return root, outside


@needs_openat2
def test_a_plain_file_is_opened_in_one_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = _tree(tmp_path)
    path = str(root / "tasks/t/runs/ab/cd/x.json")
    fd = _OPENER(os.fsencode(path))
    assert fd >= 0
    os.close(fd)
    assert _same_both_ways(path, str(root), monkeypatch)[1] == b'{"in": "project"}\n'
    # ...and taken: the /proc check is never asked.
    with monkeypatch.context() as m:
        m.setattr(_io, "_check_real_path", None)
        assert _outcome(path, str(root), True, m)[1] == b'{"in": "project"}\n'
    # The root itself may sit behind a symlink (the usual open allows it, and is then the one used).
    (tmp_path / "via").symlink_to(root)
    assert (
        _same_both_ways(str(tmp_path / "via/tasks/t/runs/ab/cd/x.json"), str(tmp_path / "via"), monkeypatch)[
            0
        ]
        == "read"
    )


@needs_openat2
@pytest.mark.parametrize(
    "case",
    ["folder", "file", "dotdot", "dot", "hidden", "fifo", "directory", "missing", "nul", "dangling"],
)
def test_hostile_paths_fail_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    root, outside = _tree(tmp_path)
    runs = root / "tasks/t/runs"
    relpath = {
        "folder": "tasks/t/runs/ee/cd/x.json",
        "file": "tasks/t/runs/ab/cd/y.json",
        "dotdot": "tasks/t/../../../outside/secret.json",
        "dot": "tasks/./t/runs/ab/cd/x.json",
        "hidden": "tasks/t/runs/ab/.cd/x.json",
        "fifo": "tasks/t/runs/ab/cd/pipe.json",
        "directory": "tasks/t/runs/ab/cd",
        "missing": "tasks/t/runs/ab/cd/none.json",
        "nul": "tasks/t/runs/ab/cd/x.json\0/../y.json",
        "dangling": "tasks/t/runs/ab/cd/gone.json",
    }[case]
    (runs / "ee").symlink_to(outside)
    (runs / "ab/cd/y.json").symlink_to(outside / "secret.json")
    (runs / "ab/.cd").symlink_to(outside)
    os.mkfifo(runs / "ab/cd/pipe.json")
    (runs / "ab/cd/gone.json").symlink_to(outside / "nothing.json")
    path = os.path.join(str(root), relpath)
    if case == "nul":
        # Both ways refuse a NUL byte before any system call (the usual open raises ValueError).
        with pytest.raises(ValueError):
            _outcome(path, str(root), False, monkeypatch)
        with pytest.raises(ValueError):
            _outcome(path, str(root), True, monkeypatch)
        return
    assert _nofollow.open_no_symlinks(str(root) + "/" + relpath) is None or case in ("fifo", "directory")
    outcome = _same_both_ways(path, str(root), monkeypatch)
    assert outcome[0] == "error", outcome


@needs_openat2
def test_a_folder_swapped_for_a_symlink_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = _tree(tmp_path)
    path = str(root / "tasks/t/runs/ab/cd/x.json")
    assert _same_both_ways(path, str(root), monkeypatch)[0] == "read"
    (root / "tasks/t/runs/ab/cd").rename(tmp_path / "moved")
    (root / "tasks/t/runs/ab/cd").symlink_to(outside / "cd")
    outcome = _same_both_ways(path, str(root), monkeypatch)
    assert outcome[0] == "error" and "symlink" in outcome[1]


@needs_openat2
@pytest.mark.parametrize("seed", range(12))
def test_random_trees_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Random folders, files, symlinks (to files and folders, inside and outside, dangling) and names with
    dots: every path under the root, and a few made-up ones, give the same outcome both ways."""
    rng = random.Random(seed)
    root, outside = _tree(tmp_path)
    names = ["a", "b", "cd", ".h", "x.json", "..", ".", "e f", "é"]
    folders, files = [root, root / "tasks"], []
    for _ in range(40):
        parent = rng.choice(folders)
        name = rng.choice(names[:4] + names[7:]) + str(rng.randrange(5))
        target = parent / name
        if target.exists() or target.is_symlink():
            continue
        what = rng.random()
        if what < 0.35:
            target.mkdir()
            folders.append(target)
        elif what < 0.7:
            target.write_text(f'{{"n": {rng.randrange(100)}}}\n')
            files.append(target)
        else:
            pointee = rng.choice([outside, outside / "secret.json", outside / "nothing", *folders, *files])
            target.symlink_to(pointee)
    paths = [p for p in root.rglob("*")]
    paths += [rng.choice(folders) / rng.choice(names) / rng.choice(names) for _ in range(20)]
    for p in paths:
        _same_both_ways(str(p), str(root), monkeypatch)


def test_few_reads_never_set_it_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A command reading a handful of records does not import ctypes for it."""
    monkeypatch.setattr(_nofollow, "_state", 0)
    monkeypatch.setattr(_nofollow, "_opener", None)
    root, _ = _tree(tmp_path)
    for _ in range(_nofollow._BULK - 1):
        _io.read_bytes_checked(str(root / "tasks/t/runs/ab/cd/x.json"), str(root), 100)
    assert _nofollow._state == _nofollow._BULK - 1 and _nofollow._opener is None
