"""kilngit/layout.py: `classify`'s one alternation gives what trying each kind's pattern in turn gives, on
real, random and hostile paths, and follows the kinds table when a kind is registered or removed."""

from __future__ import annotations

import random

import pytest

from kilngit import kinds, layout
from kilngit.kinds import KINDS

_ALPHABET = "abcdef0123456789-_.@+/ \n\\é" + "xyzATU"


def _paths(rng: random.Random) -> list[str]:
    """Every kind's path in every layout, filled with good and bad parts, then cut and mutated."""
    out = []
    for kind in KINDS.values():
        for version in (kinds.LAYOUT, *kind.older):
            template = kind.template(version) if version == kinds.LAYOUT else kind.older[version]
            for _ in range(20):
                parts = {
                    p: rng.choice(
                        ["t", "e", "j", "alice@example.com", "0123456789abcdef", "ab", "A", "x/y", ""]
                    )
                    for p in kind.parts
                }
                try:
                    filled = kinds._pieces(template) and "".join(
                        text + (parts[name][start:end] if name else "")
                        for text, name, start, end in kinds._pieces(template)
                    )
                except KeyError:
                    continue
                out.append(filled)
                chars = list(filled)
                for _ in range(rng.randrange(3)):
                    at = rng.randrange(len(chars) + 1)
                    if rng.random() < 0.5 and chars:
                        del chars[min(at, len(chars) - 1)]
                    else:
                        chars.insert(at, rng.choice(_ALPHABET))
                out.append("".join(chars))
    return out + ["", "/", "tasks", "tasks/", "kilngit.yaml\n", "kilngit.yaml", "tasks/t/task.yaml/"]


def test_classify_is_each_pattern_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "_asked", layout._BULK)
    rng = random.Random(5)
    paths = _paths(rng)
    found = 0
    for path in paths:
        assert layout.classify(path) == layout._classify_each(path), path
        found += layout.classify(path) is not None
    assert found > 100  # many are real paths of some kind


def test_classify_follows_the_kinds_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "_asked", layout._BULK)
    path = "tasks/t/task.yaml"
    assert layout.classify(path) == layout._classify_each(path)
    task = KINDS.pop("task")
    try:
        assert layout.classify(path) is None is layout._classify_each(path)
    finally:
        KINDS.clear()
        KINDS.update(kinds.BUILTIN)
    assert layout.classify(path) == layout._classify_each(path) and layout.classify(path).kind == task.name


def test_few_paths_never_build_the_one_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "_asked", 0)
    monkeypatch.setattr(layout, "_TABLE", [])
    for _ in range(layout._BULK):
        layout.classify("tasks/t/task.yaml")
    assert layout._TABLE == []
    assert layout.classify("tasks/t/task.yaml") == layout._classify_each("tasks/t/task.yaml")
    assert layout._TABLE != []
