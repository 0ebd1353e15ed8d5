"""The full reader's fast path for canonical files (`load._read_canonical`) must give exactly what the strict
reader gives: same record, same problems, on valid files and on random and hostile variants of them."""

from __future__ import annotations

import contextlib
import json
import random

import pytest

from kilngit import layout, load
from kilngit.load import parse_record
from kilngit.records.canonical import content_id, to_file_bytes

RUN = {
    "kind": "task_run",
    "v": 1,
    "task": "ffmpeg",
    "input": "convert clip.mov to mp4, keep audio",
    "input_source": {"type": "human", "created_by": "alice@example.com"},
    "output": "ffmpeg -i clip.mov -c:v libx264 -c:a aac clip.mp4",
    "output_source": {
        "type": "synthetic",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "run_config": "mini",
    },
    "usage": {"input_tokens": 120, "output_tokens": 30, "cost": 0.00012, "latency_ms": 812.5},
    "sample": 0,
    "tags": ["eval_set"],
}
ANNOTATION = {
    "kind": "annotation",
    "v": 1,
    "task": "ffmpeg",
    "run": "0123456789abcdef",
    "rater": "alice@example.com",
    "rating": {"type": "pass_fail", "value": 1.0},
    "requirements": {},
    "tags_added": [],
    "tags_removed": [],
}
JUDGE_RESULT = {
    "kind": "judge_result",
    "v": 1,
    "task": "ffmpeg",
    "eval": "quality",
    "judge": "strict",
    "judge_hash": "00112233445566778899aabbccddeeff",
    "run": "0123456789abcdef",
    "sample": 0,
    "scores": {"overall": 4.0, "tone": 0.5},
    "labels": {},
    "details": {"probabilities": {"4": 0.75, "5": 0.25}, "tries": 1},
    "usage": {"input_tokens": 900, "cost": 2.0, "latency_ms": 1500.0},
}
VALUES = [
    "plain",
    "é ünïcode 日本 😀",
    'line\nbreak\t"quoted" \\ back',
    "\x01 control",
    "",
    0,
    -1,
    2**60,
    10**30,
    1.0,
    -0.0,
    0.5,
    1e-7,
    1e21,
    1.5e300,
    2.0,
    2.0**53,
    1e16,
    {"overall": 3.0, "tone": -0.0},
    {"cost": 5.0, "latency_ms": 1.0},
    {"cost": 0.00001, "input_tokens": 3.0},
    {"x": [1.0, 2.5e-8]},
    {"probabilities": {"4": 1.0}, "tries": 2},
    True,
    None,
    [],
    [1, "a", None],
    {},
    {"é": 1, "b": [1.0, {"c": None}]},
]
TEXT_EDITS = [
    lambda t: t.replace('"task": "ffmpeg"', '"task": "ffmpeg",\n  "task": "ffmpeg"', 1),  # duplicate key
    lambda t: t.replace('"v": 1', '"v": 1,\n  "v": 1', 1),
    lambda t: t.replace('"v": 1', '"v": 2', 1),
    lambda t: t.replace('"v": 1', '"v": true', 1),
    lambda t: t.replace('"v": 1', '"v": 0', 1),
    lambda t: t.replace('"v": 1', '"v": 1.0', 1),
    lambda t: t.replace(',\n  "v": 1', "", 1),
    lambda t: t.replace('"sample": 0', '"sample": NaN', 1),
    lambda t: t.replace('"sample": 0', '"sample": Infinity', 1),
    lambda t: t.replace('"sample": 0', '"sample": 1e999', 1),
    lambda t: t.replace('"cost": 0.00012', '"cost": 1e999', 1),
    lambda t: t.replace('"cost": 0.00012', '"cost": -Infinity', 1),
    lambda t: t.replace("alice", "\\u0061lice", 1),
    lambda t: t.replace("alice", "\\ud800lice", 1),
    lambda t: t.replace("alice", "\\udc00\\ud800", 1),
    lambda t: t.replace('"kind": "', '"kind": "x', 1),
    lambda t: t[:-1],  # no final newline
    lambda t: t + "\n",
    lambda t: "\ufeff" + t,
    lambda t: t.replace("\n  ", "\n    "),
    lambda t: t.replace("\n", ""),
    lambda t: t[: len(t) // 2],
    lambda t: "[" * 150 + "]" * 150,
    lambda t: t.replace('"tags": [', '"tags": ' + "[" * 120, 1).replace("]", "]" * 120, 1),
    lambda t: "[]\n",
    lambda t: "null\n",
    lambda t: '"text"\n',
    lambda t: t.replace("{", '{\n  "zzz": 1,', 1),
    lambda t: t.replace('"task": "ffmpeg"', '"task": "other"', 1),
]


def _variants(base: dict, rng: random.Random, n: int) -> list[tuple[dict, str]]:
    """(dict for the path, file text): canonical files, edited values, re-ordered keys, text edits."""
    out = []
    for _ in range(n):
        data = json.loads(json.dumps(base))
        for _ in range(rng.randrange(3)):
            field = rng.choice([k for k in data if k not in ("kind", "v")] + ["extra", "note"])
            data[field] = rng.choice(VALUES)
        if data.get("kind") != "annotation" and rng.random() < 0.8:
            # a number JCS cannot write (outside +-2**53 with an exponent float) leaves the id out
            with contextlib.suppress(ValueError):
                data["id"] = content_id(data)
        try:
            text = to_file_bytes(data).decode()
        except (ValueError, TypeError):
            text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        choice = rng.random()
        if choice < 0.3:
            text = rng.choice(TEXT_EDITS)(text)
        elif choice < 0.4:
            items = list(data.items())
            rng.shuffle(items)
            text = json.dumps(dict(items), indent=2, ensure_ascii=rng.random() < 0.5) + "\n"
        out.append((data, text))
    return out


def _path(data: dict, base: dict, rng: random.Random) -> str:
    if base["kind"] == "annotation":
        return layout.annotation_file("ffmpeg", "alice@example.com", "0123456789abcdef")
    if base["kind"] == "judge_result":
        result_id = data.get("id") if isinstance(data.get("id"), str) and len(data["id"]) == 16 else None
        return layout.judge_result_file("ffmpeg", "quality", "strict", result_id or content_id(base))
    run_id = data.get("id") if isinstance(data.get("id"), str) and len(data.get("id", "")) == 16 else None
    run_id = run_id or content_id(base)
    if rng.random() < 0.1:
        run_id = run_id[::-1]  # a file named after another ID, or in the wrong shard folder
    return layout.run_file("ffmpeg", run_id)


def _outcome(root, relpath) -> tuple:
    try:
        parsed = parse_record(root, relpath)
    except Exception as e:  # the same crash either way is agreement too (not this path's to fix)
        return (type(e).__name__,)
    # repr, not the dump alone: 1 == 1.0, but a float field must not come back as an int
    record = (parsed.record.model_dump(), repr(parsed.record)) if parsed.record is not None else None
    return parsed.kind, record, [tuple(vars(p).items()) for p in parsed.problems], parsed.params


@pytest.mark.parametrize("base", [RUN, ANNOTATION, JUDGE_RESULT], ids=["run", "annotation", "judge_result"])
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_agrees_with_strict_reader(project, monkeypatch, base, seed):
    rng = random.Random(seed)
    fast_hits, real = 0, load._read_canonical
    for data, text in _variants(base, rng, 150):
        relpath = _path(data, base, rng)
        path = project.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = text.encode("utf-8", "surrogatepass") if rng.random() < 0.95 else b"\xff\xfe" + text.encode()
        path.write_bytes(raw)
        seen: list[load.Parsed | None] = []
        monkeypatch.setattr(load, "_read_canonical", lambda *a, seen=seen: seen.append(real(*a)) or seen[-1])
        fast = _outcome(project.root, relpath)
        monkeypatch.setattr(load, "_read_canonical", lambda *a: None)
        assert fast == _outcome(project.root, relpath), (relpath, text)
        fast_hits += bool(seen and seen[0] is not None)
        path.unlink()
    assert fast_hits > 20  # the fast path did answer, for canonical files
