"""The kept parsed YAML (`cache.parsed_yaml`) against the YAML reader itself (`_io.load_yaml`): the same data
with the same types, or the same error, on random edits (many in the same second, keeping the size), on
hostile text, and with a corrupt, copied or symlinked cache file."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from kilngit._io import ReadError, load_yaml
from kilngit.cache import parsed_yaml
from kilngit.project import Project


@pytest.fixture(autouse=True)
def _cache_folder(tmp_path: Path) -> None:
    """The cache is kept only where another cache made its folder."""
    for root in (tmp_path, tmp_path / "first", tmp_path / "copy"):
        (root / parsed_yaml.FILE).parent.mkdir(parents=True, exist_ok=True)


def _typed(data: Any) -> str:
    """`data` with every value's exact type: 1, 1.0 and True differ, and so do key orders."""
    if type(data) is dict:
        return "{" + ", ".join(f"{_typed(k)}: {_typed(v)}" for k, v in data.items()) + "}"
    if type(data) is list:
        return "[" + ", ".join(_typed(v) for v in data) + "]"
    return f"{type(data).__name__}({data!r})"


def _answer(parse: Any, text: str) -> tuple[str, str]:
    try:
        return ("data", _typed(parse(text)))
    except ReadError as e:
        return ("error", f"{e} | {e.fix}")


def _both(root: Path, text: str, fresh: bool) -> tuple[tuple[str, str], tuple[str, str]]:
    """(the reader's answer, the cache's answer); `fresh`: as a new process would, from the file."""
    if fresh:
        parsed_yaml._loaded.clear()
    kept = _answer(lambda t: parsed_yaml.load(root, t.encode(), t), text)
    return _answer(load_yaml, text), kept


HOSTILE = [
    "name: x\nn: 1\nf: 1.0\nb: true\nnone: null\nneg: -0.0\nbig: 1.0e308\nexp: 1e3\n",
    "n: 0x1f\noct: 0o17\nunderscore: 1_000\nyes: yes\nstr: '1'\n",
    "big: " + "9" * 5000 + "\n",  # an int too long for JSON
    "when: 2024-01-02\nstamp: 2024-01-02T03:04:05Z\n",  # dates: not plain, parsed each time
    "s: !!set {a, b}\n",
    "b: !!binary aGVsbG8=\n",
    "1: int key\ntrue: bool key\n~: null key\n",
    "[1, 2]: a list key\n",
    "a: &x 1\nb: *x\n",  # an alias: refused
    "a: 1\na: 2\n",  # a duplicate key: refused
    "x: .inf\n",
    "x: .nan\n",
    "x: '\\ud800'\n",
    'x: "\\ud800"\n',
    "ünï: cödé ✓ 😀\n",
    "x: [" * 150 + "]" * 150 + "\n",  # too deep
    "name: [unclosed\n",
    "",
    "# only a comment\n",
    "- a list\n- at the top\n",
    "just a string\n",
    "42\n",
    "a: {b: {c: [1, {d: e}]}}\n",
    "key with spaces: 'quoted: value'\nmulti: |\n  line one\n  line two\n",
    "x: !!python/object:os.system echo\n",
    "x: !custom 1\n",
    "x: 1\n---\ny: 2\n",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_gets_the_readers_answer_every_time(tmp_path: Path, text: str) -> None:
    for fresh in (True, False, True):
        reader, kept = _both(tmp_path, text, fresh)
        assert kept == reader


def _random_yaml(rng: random.Random) -> str:
    def value(depth: int) -> str:
        choice = rng.randrange(9 if depth < 3 else 6)
        if choice == 0:
            return str(rng.randint(-(10**12), 10**12))
        if choice == 1:
            return repr(rng.uniform(-1e6, 1e6))
        if choice == 2:
            return rng.choice(["true", "false", "null", "~", "yes", "'yes'", "0.0", "-0.0", "1e3"])
        if choice == 3:
            return rng.choice(["plain text", "'quoted'", '"dq ✓"', "ünï", "a: b", "'a: b'", "2024-01-02"])
        if choice in (4, 5):
            return "".join(rng.choice("abcxyz019 ") for _ in range(rng.randrange(1, 12))).strip() or "x"
        if choice in (6, 7):
            return "[" + ", ".join(value(depth + 1) for _ in range(rng.randrange(4))) + "]"
        return "{" + ", ".join(f"k{i}: {value(depth + 1)}" for i in range(rng.randrange(4))) + "}"

    return "".join(
        f"{rng.choice(['name', 'a', 'b', 'c', 'a'])}: {value(0)}\n" for _ in range(rng.randrange(1, 6))
    )


def _same_size_edit(rng: random.Random, text: str) -> str:
    """One character changed for another of the same UTF-8 length (the size stays)."""
    ascii_at = [i for i, c in enumerate(text) if c.isascii() and c not in "\n"]
    if not ascii_at:
        return text
    i = rng.choice(ascii_at)
    return text[:i] + rng.choice("abc01:-[]{}, '\"#&*!") + text[i + 1 :]


def test_random_edits_in_the_same_second_and_size_get_the_readers_answer(tmp_path: Path) -> None:
    rng = random.Random(16)
    path = tmp_path / "def.yaml"
    seen = set()
    for step in range(400):
        text = _random_yaml(rng) if step % 5 == 0 else _same_size_edit(rng, path.read_text(encoding="utf-8"))
        stamp = path.stat() if path.exists() else None
        path.write_text(text, encoding="utf-8")
        if stamp is not None and len(text.encode()) == stamp.st_size:
            os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the same second, the same size
        raw = path.read_bytes()
        reader, kept = _both(tmp_path, raw.decode(), fresh=step % 3 == 0)
        assert kept == reader, (step, text)
        seen.add(reader[0])
    assert seen == {"data", "error"}  # both kinds of answer were compared
    assert json.loads((tmp_path / parsed_yaml.FILE).read_text())["entries"]  # and the cache was used


def test_a_caller_changing_its_data_changes_no_later_answer(tmp_path: Path) -> None:
    text = "a: [1, 2]\nb: {c: d}\n"
    for _ in range(2):
        data = parsed_yaml.load(tmp_path, text.encode(), text)
        assert data == {"a": [1, 2], "b": {"c": "d"}}
        data["a"].append(3)
        data["b"]["c"] = "changed"


def _poison(root: Path, text: str, value: Any) -> None:
    """Write an entry for `text` that says `value`, with the stamp of a cache at `root`."""
    parsed_yaml._loaded.clear()
    parsed_yaml.load(root, text.encode(), text)
    stored = json.loads((root / parsed_yaml.FILE).read_text())
    stored["entries"] = {k: json.dumps(value) for k in stored["entries"]}
    (root / parsed_yaml.FILE).write_text(json.dumps(stored))
    parsed_yaml._loaded.clear()


def test_a_copied_corrupt_or_symlinked_cache_is_not_used(tmp_path: Path) -> None:
    text = "name: real\n"
    first = tmp_path / "first"
    _poison(first, text, {"name": "poisoned"})
    assert parsed_yaml.load(first, text.encode(), text) == {"name": "poisoned"}  # how a stamp is trusted
    copy = tmp_path / "copy"
    shutil.copytree(first, copy, dirs_exist_ok=True)  # another root: the stamp differs
    parsed_yaml._loaded.clear()
    assert parsed_yaml.load(copy, text.encode(), text) == {"name": "real"}
    for corrupt in (b"{not json", b"[]", b'{"stamp": 1}', b"\xff\xfe"):
        (first / parsed_yaml.FILE).write_bytes(corrupt)
        parsed_yaml._loaded.clear()
        assert parsed_yaml.load(first, text.encode(), text) == {"name": "real"}
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".kilngit").symlink_to(copy / ".kilngit")  # a committed `.kilngit/` may point anywhere
    _poison(copy, text, {"name": "poisoned"})
    before = (copy / parsed_yaml.FILE).read_bytes()
    assert parsed_yaml.load(linked, text.encode(), text) == {"name": "real"}
    assert parsed_yaml.load(linked, b"other: 1\n", "other: 1\n") == {"other": 1}
    assert (copy / parsed_yaml.FILE).read_bytes() == before  # nothing written through the link


def test_nothing_is_written_where_no_cache_lives(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    assert parsed_yaml.load(bare, b"a: 1\n", "a: 1\n") == {"a": 1}
    assert list(bare.iterdir()) == []


def test_no_cache_in_the_environment_parses_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILNGIT_NO_CACHE", "1")
    assert parsed_yaml.load(tmp_path, b"a: 1\n", "a: 1\n") == {"a": 1}
    assert not (tmp_path / parsed_yaml.FILE).exists()


def test_a_project_reads_its_definitions_through_it(project: Project) -> None:
    """The definitions a `Project` reads are kept, and an edit of one (same size) is read afresh."""
    task = project.root / "tasks/ffmpeg/task.yaml"
    (project.root / parsed_yaml.FILE).parent.mkdir(parents=True, exist_ok=True)
    parsed_yaml._loaded.clear()
    before = Project(project.root).task("ffmpeg")
    assert (project.root / parsed_yaml.FILE).is_file()
    text = task.read_text()
    edited = text.replace(before.name, before.name[::-1], 1) if before.name != before.name[::-1] else text
    stamp = task.stat()
    task.write_text(edited)
    os.utime(task, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    parsed_yaml._loaded.clear()
    assert Project(project.root).task("ffmpeg").name == before.name[::-1]
