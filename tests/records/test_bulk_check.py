"""The quick check of bulk records (`bulk_check.canonical_record`) must answer only where pydantic's validation
plus the canonical-bytes check accept, and then with the very record and `to_data()` they give: compared on
random and hostile input, and on the imported Kiln demo."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from kilngit.kinds import KINDS
from kilngit.records.bulk_check import canonical_record
from kilngit.records.canonical import NotPlain, content_id, parse_plain, to_file_bytes

RUN = {
    "kind": "task_run",
    "v": 1,
    "task": "ffmpeg",
    "input": "trim the first 5 s of talk.mp4",
    "input_source": {"type": "human", "created_by": "bo@example.com"},
    "output": "ffmpeg -ss 5 -i talk.mp4 -c copy out.mp4",
    "output_source": {
        "type": "synthetic",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "run_config": "mini",
        "run_config_hash": "abcdef0123456789",
        "topic": ["video", "trim"],
    },
    "intermediate_outputs": {"draft": "ffmpeg -i talk.mp4", "chain": "cut then copy"},
    "reasoning": "copy the streams",
    "usage": {"input_tokens": 80, "output_tokens": 12, "total_tokens": 92, "cost": 0.5, "latency_ms": 640.0},
    "sample": 2,
    "tags": ["eval_set", "golden"],
    "parent": "0011223344556677",
}
FAILED_RUN = {
    "kind": "task_run",
    "v": 1,
    "task": "ffmpeg",
    "input": '{"clip": "a.mov"}',
    "input_source": {"type": "file_import", "file": "inputs.csv"},
    "error": {"type": "timeout", "message": "no answer in 60 s"},
    "sample": 0,
    "tags": [],
}
ANNOTATION = {
    "kind": "annotation",
    "v": 1,
    "task": "ffmpeg",
    "run": "0123456789abcdef",
    "rater": "bo@example.com",
    "rating": {"type": "five_star", "value": 4.0},
    "requirements": {
        "concise": {"type": "pass_fail", "value": 0.0},
        "route": {"type": "label", "label": "billing"},
        "safe": {"type": "pass_fail_critical", "value": -1.0},
    },
    "tags_added": ["reviewed"],
    "tags_removed": ["todo"],
    "note": "close, but drops the audio",
    "rated_at": "2026-12-01T19:30:05Z",
    "seconds_on_item": 12.5,
}
JUDGE_RESULT = {
    "kind": "judge_result",
    "v": 1,
    "task": "ffmpeg",
    "eval": "quality",
    "judge": "g-eval",
    "judge_hash": "00112233445566778899aabbccddeeff",
    "run": "0123456789abcdef",
    "sample": 1,
    "scores": {"overall": 4.25, "tone": 1.0},
    "labels": {"route": "billing"},
    "explanation": "mostly right",
    "details": {
        "fallback": None,
        "probabilities": {"4": 0.75, "5": 0.25},
        "raw": [1, 2.5, None, "x"],
        "tries": 2,
    },
    "usage": {"input_tokens": 900, "cost": 2.0, "latency_ms": 1500.25},
}


def _deep_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_sorted(value[k]) for k in sorted(value)}
    return value


# Sorted as they are written, so that a mutation's unsorted mapping is the one thing out of order.
BASES = [_deep_sorted(base) for base in (RUN, FAILED_RUN, ANNOTATION, JUDGE_RESULT)]

HOSTILE: list[Any] = [
    "plain",
    "é ünïcode 日本 😀",
    'line\nbreak\t"quoted" \\ back',
    "",
    "2026-12-01T19:30:05Z",
    "2026-12-01 19:30:05",
    "human",
    "synthetic",
    "label",
    "timeout",
    0,
    1,
    -1,
    2,
    5,
    True,
    False,
    2**53,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    4.0,
    1e-7,
    1e21,
    1.5e300,
    2.0**53,
    1e16,
    math.nan,
    math.inf,
    -math.inf,
    None,
    [],
    ["a"],
    ["b", "a"],
    ["a", "a"],
    [1],
    ["a", None],
    {},
    {"a": "b"},
    {"b": "x", "a": "y"},
    {"a": 1},
    {"a": 1.0, "b": -0.0},
    {"a": None},
    {"a": True},
    {"type": "human", "created_by": "x"},
    {"created_by": "x", "type": "human"},
    {"type": "human"},
    {"type": "synthetic", "model": ""},
    {"type": "pass_fail", "value": 1.0},
    {"type": "pass_fail", "value": 0.5},
    {"type": "pass_fail", "value": True},
    {"type": "label", "label": "x"},
    {"label": "", "type": "label"},
    {"type": "label", "label": "x", "value": 1.0},
    {"input_tokens": -1},
    {"input_tokens": 1.0},
    {"cost": -0.0},
    {"cost": 1},
    {"message": "m", "type": "refused"},
    {"message": "m", "type": "nope"},
    {"é": 1, "b": [1.0, {"c": None}]},
    {"x": {"b": 1, "a": 2}},
    {"x": [math.nan]},
    {"x": [{"b": 1, "a": 2}]},
]


def _mutate(data: dict[str, Any], rng: random.Random, model: type[BaseModel]) -> None:
    """One random change: a field (top level or nested) set to a hostile value, dropped, or added."""
    target = data
    nested = [k for k, v in data.items() if isinstance(v, dict) and v]
    if nested and rng.random() < 0.35:
        target = data[rng.choice(nested)]
        deeper = [k for k, v in target.items() if isinstance(v, dict) and v]
        if deeper and rng.random() < 0.5:
            target = target[rng.choice(deeper)]
    keys = list(target) or ["x"]
    choice = rng.random()
    if choice < 0.65:
        target[rng.choice(keys + list(model.model_fields))] = copy.deepcopy(rng.choice(HOSTILE))
    elif choice < 0.85:
        target.pop(rng.choice(keys), None)
    else:
        target[rng.choice(["extra", "zzz", "Kind", "é"])] = copy.deepcopy(rng.choice(HOSTILE))


def _texts(data: dict[str, Any], rng: random.Random) -> list[str]:
    """File texts of `data`: canonical, unsorted (top level, nested), other spacing, exponent forms,
    duplicate keys."""
    try:
        canonical = to_file_bytes(data).decode()
    except (ValueError, TypeError):
        canonical = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out = [canonical]
    items = list(data.items())
    rng.shuffle(items)
    out.append(json.dumps(dict(items), indent=2, ensure_ascii=False) + "\n")
    out.append(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=True) + "\n")
    # the top level sorted, nested mappings as they come (sorted or not)
    out.append(json.dumps(dict(sorted(data.items())), indent=2, ensure_ascii=False) + "\n")
    out.append(canonical.replace("\n  ", "\n   ", 1))
    out.append(
        canonical.replace(": 4.0", ": 4e0", 1).replace(": 0.5", ": 5E-1", 1).replace(": 2.0", ": 2.00", 1)
    )
    out.append(canonical.replace('"task": ', '"task": "dup",\n  "task": ', 1))
    out.append(canonical.replace("{\n", '{\n  "v": 1,\n', 1))
    out.append(canonical.rstrip("\n"))
    return out


def _parses(text: str) -> list[Any]:
    """What the fast reader hands the check: the one parse (integral floats as ints) and the plain one."""
    out = []
    with contextlib.suppress(NotPlain, ValueError):
        out.append(parse_plain(text))
    with contextlib.suppress(ValueError):
        out.append(json.loads(text))
    return out


def _pydantic(kind: str, data: Any, raw: bytes) -> tuple[Any, Any] | None:
    """Today's full way: pydantic, `to_data`, and the canonical bytes."""
    try:
        record = KINDS[kind].model.model_validate(data)
        canonical = record.to_data()
        if to_file_bytes(canonical) != raw:
            return None
    except (ValueError, RecursionError):
        return None
    return record, canonical


def _shape(value: Any, ordered: bool = True) -> Any:
    """`value` with every type and every model's fields set spelled out (1 == 1.0 == True hides them).
    `ordered=False`: the order of a mapping's keys does not count (as for `to_data()`, which is hashed and
    written sorted)."""
    if isinstance(value, BaseModel):
        return (
            type(value).__name__,
            sorted(value.__pydantic_fields_set__),
            value.__pydantic_extra__,
            value.__pydantic_private__,
            [(k, _shape(v)) for k, v in value.__dict__.items()],
        )
    if isinstance(value, dict):
        items = [(k, _shape(v, ordered)) for k, v in value.items()]
        return (type(value).__name__, items if ordered else sorted(items))
    if isinstance(value, list):
        return (type(value).__name__, [_shape(v, ordered) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value)


def _agree(kind: str, data: Any, raw: bytes) -> tuple[bool, bool]:
    """Asserts the quick check agrees with pydantic on (data, raw): (it answered, pydantic accepted)."""
    quick = canonical_record(kind, copy.deepcopy(data), raw)
    full = _pydantic(kind, copy.deepcopy(data), raw)
    if quick is None:
        return False, full is not None
    assert full is not None, (kind, raw)
    assert _shape(quick[0]) == _shape(full[0]), raw
    assert _shape(quick[1], False) == _shape(full[1], False), raw
    assert repr(quick[0]) == repr(full[0])
    assert quick[0].to_data() == full[1]
    if kind != "annotation":
        assert content_id(quick[1]) == content_id(full[1])
    return True, True


@pytest.mark.parametrize("base", BASES, ids=["run", "failed_run", "annotation", "judge_result"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_pydantic_on_random_and_hostile_input(base, seed):
    rng = random.Random(seed)
    model = KINDS[base["kind"]].model
    answered = accepted = 0
    for _ in range(250):
        data = copy.deepcopy(base)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            _mutate(data, rng, model)
        if base["kind"] != "annotation" and rng.random() < 0.7:
            with contextlib.suppress(ValueError, TypeError):
                data["id"] = content_id(data)
        for text in _texts(data, rng):
            raw = text.encode("utf-8", "surrogatepass")
            for parsed in _parses(text):
                quick, full = _agree(base["kind"], parsed, raw)
                answered, accepted = answered + quick, accepted + full
    assert accepted > 50
    assert answered > accepted * 0.8  # and it does answer, for most of what pydantic accepts


@pytest.mark.parametrize("base", BASES, ids=["run", "failed_run", "annotation", "judge_result"])
def test_answers_for_canonical_files(base):
    data = dict(base)
    if base["kind"] != "annotation":
        data["id"] = content_id(data)
    raw = to_file_bytes(data)
    assert all(_agree(base["kind"], parsed, raw) == (True, True) for parsed in _parses(raw.decode()))


def test_leaves_what_it_does_not_know_to_pydantic():
    raw = to_file_bytes(RUN)
    assert canonical_record("task", RUN, raw) is None  # not a bulk kind
    assert canonical_record("task_run", [RUN], raw) is None
    assert canonical_record("task_run", RUN, raw + b" ") is None


def test_agrees_on_the_kiln_demo(demo_import):
    root: Path = demo_import[0]
    answered = accepted = seen = 0
    for path in sorted((root / "tasks").rglob("*.json")):
        raw = path.read_bytes()
        text = raw.decode()
        for parsed in _parses(text):
            kind = parsed.get("kind") if isinstance(parsed, dict) else None
            if kind not in ("task_run", "annotation", "judge_result"):
                continue
            seen += 1
            quick, full = _agree(kind, parsed, raw)
            answered, accepted = answered + quick, accepted + full
    assert seen > 10_000
    assert answered == accepted > seen // 2


def _places(data: dict[str, Any], model: type[BaseModel]) -> list[tuple[dict[str, Any], str]]:
    """(mapping, key) of every field of `data` and of its nested mappings, and of every field its model has."""
    out = [(data, k) for k in {*data, *model.model_fields, "extra"}]
    for value in data.values():
        if isinstance(value, dict):
            out += [(value, k) for k in value]
            out += [(v, k) for v in value.values() if isinstance(v, dict) for k in v]
    return out


@pytest.mark.parametrize("base", BASES, ids=["run", "failed_run", "annotation", "judge_result"])
def test_agrees_on_every_field_set_to_every_hostile_value(base):
    model = KINDS[base["kind"]].model
    count = len(_places(copy.deepcopy(base), model))
    for i in range(count):
        for value in HOSTILE:
            data = copy.deepcopy(base)
            mapping, key = _places(data, model)[i]
            mapping[key] = copy.deepcopy(value)
            if base["kind"] != "annotation":
                with contextlib.suppress(ValueError, TypeError):
                    data["id"] = content_id(data)
            for text in _texts(data, random.Random(i))[:4]:
                raw = text.encode()
                for parsed in _parses(text):
                    _agree(base["kind"], parsed, raw)


@pytest.mark.parametrize("remembered", [0, 1])
def test_agrees_whatever_the_key_lists_remembered(monkeypatch, remembered):
    """Each model's check keeps its verdict on a key list (bounded): with none or one remembered, and a
    fresh check, it agrees with pydantic as before (the first key lists seen may be hostile ones)."""
    from kilngit.records import bulk_check

    monkeypatch.setattr(bulk_check, "_SHAPES", remembered)
    monkeypatch.setattr(bulk_check, "_CHECKS", {})
    rng = random.Random(remembered)
    for base in BASES:
        model = KINDS[base["kind"]].model
        for _ in range(60):
            data = copy.deepcopy(base)
            for _ in range(rng.choice([1, 2])):
                _mutate(data, rng, model)
            for text in _texts(data, rng):
                for parsed in _parses(text):
                    _agree(base["kind"], parsed, text.encode("utf-8", "surrogatepass"))
        data = dict(base)
        if base["kind"] != "annotation":
            data["id"] = content_id(data)
        raw = to_file_bytes(data)
        assert _agree(base["kind"], parse_plain(raw.decode()), raw) == (True, True)
