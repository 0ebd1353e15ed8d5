import math
import random

import pytest
import rfc8785

from kilngit.records import Source, TaskRun
from kilngit.records.canonical import (
    NotPlain,
    content_id,
    file_content_id,
    jcs_bytes,
    parse_plain,
    plain_content_id,
    to_file_bytes,
)


def _random_value(rng: random.Random, depth: int = 0):
    choice = rng.randrange(8 if depth < 3 else 5)
    if choice == 0:
        return rng.choice(
            [0.0, 1.0, -1.0, 0.5, 1e-7, 0.0000123, 123456.789, 1e21, 2.5e-5, 3.0, 1e16, 0.1 + 0.2]
        )
    if choice == 1:
        return rng.randrange(-(10**6), 10**6)
    if choice == 2:
        return rng.choice(["", "a", "é", "ffmpeg -i a.mov", "line\nbreak", "\u2028", "tab\t", "😀", "\x01"])
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return rng.choice(["x", "y"])
    if choice == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["a", "b", "Z", "é", "\ue000", "😀", "kind", "id", "10", "1"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_fast_path_matches_rfc8785_reference():
    rng = random.Random(8785)
    for _ in range(3000):
        value = _random_value(rng)
        assert jcs_bytes(value) == rfc8785.dumps(value), value


def test_file_content_id_is_content_id_of_the_file_form():
    # The shortcut validate takes for a canonical file: the same ID as the walk, or None (then the walk).
    rng = random.Random(16)
    answered = 0
    for _ in range(3000):
        value = {"id": "x", "v": 1, "body": _random_value(rng)}
        for extra in (_random_value(rng), 2**60, 9007199254740992.0, -0.0, 1e-300):
            value[rng.choice(["a", "é", "id2"])] = extra
            text = to_file_bytes(value).decode()
            got = file_content_id(text)
            if got is not None:  # None: the caller asks content_id (which may refuse a big int)
                assert got == content_id(value), text
                answered += 1
    assert answered > 1000


def test_content_id_ignores_id_field_and_key_order():
    a = {"kind": "x", "b": 1, "a": [1.0, "é"]}
    b = {"a": [1.0, "é"], "id": "whatever", "b": 1, "kind": "x"}
    assert content_id(a) == content_id(b)
    assert len(content_id(a)) == 16


def test_same_run_same_id_and_bytes_everywhere():
    # Pinned: changing the canonical form or the hash breaks every existing project, so it must be deliberate.
    run = TaskRun(
        task="ffmpeg",
        input="convert a.mov to mp4",
        output="ffmpeg -i a.mov a.mp4",
        input_source=Source(type="human", created_by="alice@example.com"),
        output_source=Source(type="human", created_by="alice@example.com"),
        tags=["eval_set"],
    ).with_id()
    assert run.id == "0a153506b4c88608"
    assert run.to_bytes() == to_file_bytes(run.to_data())
    assert run.to_bytes().endswith(b"}\n")
    assert b'"v": 1' in run.to_bytes()


def test_prebuilt_hash_encoder_writes_what_the_json_encoder_writes():
    from kilngit.records import canonical

    values = [
        {"b": [1, 2.5, None, True, "é 日本 😀"], "a": {"z": -0.0, "y": 10**30, "x": 1e-7}, "": '\x01\n"'},
        [],
        {},
        "text",
        12,
        1.5e300,
        None,
        [{"k": [[], {}]}],
    ]
    for value in values:
        assert canonical._jcs_text(value) == canonical._JCS_ENCODER.encode(value)


def _decoded(parse, text):  # type: ignore[no-untyped-def]
    try:
        return ("value", repr(parse(text)))
    except Exception as e:  # noqa: BLE001 (the exception itself is what is compared)
        return ("error", type(e).__name__, str(e))


def test_parse_plain_is_the_decoders_decode():
    """parse_plain calls the decoder's scanner itself for the common text: the same value or the same error
    as `decode` on random and hostile text (whitespace around, extra data, bad numbers, cut text)."""
    from kilngit.records import canonical

    rng = random.Random(16)
    bodies = [
        '{"a": 1.0, "b": [1, 2.5, "x"], "c": {"d": null, "e": true}}',
        '{"f": 1e5}',
        '{"g": NaN}',
        '{"h": -Infinity}',
        '{"i": 12345678901234567890.0}',
        "[1, 2]",
        '"s"',
        "7",
        '{"a": 1}{"b": 2}',
        '{"a": "\\ud800"}',
        "",
        "{",
        '{"a": 1,}',
    ]
    tails = ["", "\n", "\n\n", " ", "\r\n", "\t", "x", " \n", "\u00a0", "\n]"]
    heads = ["", " ", "\n", "\ufeff"]
    for body in bodies:
        for tail in tails:
            for head in heads:
                text = head + body + tail
                assert _decoded(canonical.parse_plain, text) == _decoded(canonical._JCS_DECODER.decode, text)
    for _ in range(300):
        text = "".join(
            rng.choice(['{"k": ', "1.5", "2", "[", "]", "}", ",", '"v"', "\n", " ", "1e3"]) for _ in range(8)
        )
        assert _decoded(canonical.parse_plain, text) == _decoded(canonical._JCS_DECODER.decode, text)


def test_keys_sorted_content_id_is_the_sorting_encoders():
    # The shortcut of a canonical file's ID (compact JSON in key order, no sorting): the same ID as the
    # sorting encoder on every body it is given, bodies parsed from canonical file forms.
    rng = random.Random(53)
    numbers = [
        0.1,
        2.5e-05,
        0.000123,
        123456.789,
        1e15 + 0.5,
        2.0**53,
        2.0**60,
        9007199254740993.0,
        1e-4,
        0.5,
    ]
    answered = 0
    for i in range(4000):
        value = _random_value(rng)
        if i % 3 == 0:
            value = {"id": "x", "n": rng.choice(numbers) * rng.choice([1, -1, 3, 1e-3, 1e3]), "v": value}
        if i % 5 == 0:
            value = {
                "big": rng.choice([2**63, -(2**64) - 1, 10**30]),
                "s": '\x7f\x1f\b\f\r\t"\\/ :,',
                "z": value,
            }
        try:
            text = to_file_bytes(value).decode()
        except ValueError:
            continue
        if "\\u" in text:
            continue  # the shortcut is taken only without a \u escape
        try:
            body = parse_plain(text)
        except NotPlain:
            continue
        expected = plain_content_id(body, text)
        assert plain_content_id(body, text, keys_sorted=True) == expected, text
        answered += expected is not None
    assert answered > 300


def _jcs_float_by_repr(text: str):
    """What `parse_plain` makes of a JSON number with a fraction or exponent, by its definition."""
    value = float(text)
    if not math.isfinite(value):
        raise NotPlain
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    if "e" in repr(value) or "E" in repr(value):
        raise NotPlain
    return value


def test_parse_plain_numbers_are_the_definitions():
    # `_jcs_float` skips `repr` where it cannot show an exponent (1e-4 <= |x| < 1e16): the same answers.
    rng = random.Random(4)
    texts = ["1e-4", "0.0001", "9.999999999999999e-05", "1e16", "9999999999999998.0", "1e999", "-0.0", "0.0"]
    texts += [f"{2.0**53:.1f}", f"{2.0**53 - 1:.1f}", "1E5", "1.5e15", "-1e-4"]
    for _ in range(20000):
        x = rng.uniform(-1, 1) * 10.0 ** rng.randint(-8, 20)
        texts.append(rng.choice([repr(x), f"{x:.3f}", f"{x:e}", f"{round(x):.1f}"]))
    for text in texts:
        try:
            expected = _jcs_float_by_repr(text)
        except NotPlain:
            with pytest.raises(NotPlain):
                parse_plain(text)
            continue
        got = parse_plain(text)
        assert (type(got), got) == (type(expected), expected), text
