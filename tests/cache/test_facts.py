"""kilngit/cache/facts.py: the prebuilt encoder writes what `json.JSONEncoder.encode` writes, and `take`
gives what the plain de-duplication gives, on random and hostile values."""

from __future__ import annotations

import random
from pathlib import Path

from kilngit.cache import facts as facts_module
from kilngit.cache.facts import Facts, Recording
from kilngit.problems import Problem

_TEXTS = [
    "",
    "a",
    'quo"te',
    "back\\slash",
    "new\nline",
    "é",
    "\u2028",
    "\ud800",
    "emoji \U0001f600",
    "\x00",
    "tasks/t/x.json",
]


def _facts(rng: random.Random) -> Facts:
    def problems() -> list[Problem]:
        return [
            Problem(rng.choice(_TEXTS), rng.choice(_TEXTS), rng.choice(_TEXTS), rng.choice(_TEXTS))
            for _ in range(rng.randrange(3))
        ]

    deps = [
        [rng.choice("ed"), rng.choice(_TEXTS), rng.choice([True, False, None, "racy", "1:2:3:4"])]
        for _ in range(rng.randrange(4))
    ]
    run_key = [rng.choice(_TEXTS) for _ in range(3)] if rng.random() < 0.5 else None
    return Facts(
        rng.choice(_TEXTS), problems(), rng.random() < 0.5, rng.random() < 0.5, problems(), deps, run_key
    )


def test_encode_writes_what_the_json_encoder_writes() -> None:
    rng = random.Random(7)
    for _ in range(500):
        f = _facts(rng)
        rows = [
            f.loadable,
            f.kind,
            facts_module._rows(f.problems),
            f.checked,
            facts_module._rows(f.cross),
            f.deps,
            f.run_key,
        ]
        text = f.encode()
        assert text == facts_module._COMPACT.encode(rows)
        assert Facts.decode("p", text).encode() == text


def test_take_is_the_plain_de_duplication(tmp_path: Path) -> None:
    rng = random.Random(8)
    ctx = Recording(tmp_path, 0)
    for _ in range(300):
        asked = [
            [rng.choice("ed"), rng.choice(_TEXTS[:4]), rng.choice([True, False, None, "k"])]
            for _ in range(rng.randrange(6))
        ]
        ctx._asked = [list(d) for d in asked]
        want = [list(d) for d in {(d[0], d[1], d[2]): d for d in asked}.values()]
        assert ctx.take() == want
        assert ctx._asked == []
