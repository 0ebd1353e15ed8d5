"""Which streams the request's input has, and which of them it wants in the output.

Requests about stream selection ("I have 4 video streams and 8 audio streams; use video stream 0:2 and audio
stream 0:7", "the second audio track and the main video track", "video from stream 2 and audio from stream
7") need an input with those streams, each one recognisable in the output: video stream k gets its own size
(``VIDEO_SIZES[k]``), audio stream k its own sample rate (``SAMPLE_RATES[k]``). The output's streams are then
mapped back to the input stream they came from (``identify``).

Selections are read two ways when the request is ambiguous, and either reading is accepted:
"video stream 8" is ``0:v:8`` or ``0:8``; "the sixth audio stream (0:5)" is the sixth audio stream or
absolute stream 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Even sizes, all different, none a multiple of another (so scaling by 2 cannot fake a match).
VIDEO_SIZES = [
    (320, 180),
    (352, 288),
    (384, 216),
    (400, 300),
    (416, 240),
    (448, 336),
    (480, 270),
    (512, 384),
    (544, 306),
    (576, 324),
    (608, 342),
    (640, 352),
]
SAMPLE_RATES = [44100, 48000, 32000, 22050, 16000, 24000, 11025, 8000, 12000]
ORDINALS = {
    "first": 1,
    "main": 1,
    "primary": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "last": -1,
}
NUMBERS = {
    "one": 1,
    "a single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_KIND = r"(video|audio|subtitle)"
_ST = r"(?:streams?|tracks?)"
_NUM = r"(\d+|" + "|".join(NUMBERS) + r")"
_ORD = r"(\d+(?:st|nd|rd|th)|" + "|".join(ORDINALS) + r")"


@dataclass
class Selection:
    """One stream the output must contain: any of ``indices`` (absolute input stream indices) of ``kind``."""

    kind: str
    indices: list[int]
    said: str  # the words of the request

    def to_data(self) -> dict:
        return {"kind": self.kind, "input_streams": self.indices, "request": self.said}


@dataclass
class StreamPlan:
    """The first input's streams in order (kinds), and the selections the request makes."""

    layout: list[str] = field(default_factory=list)  # e.g. ["video"] * 4 + ["audio"] * 8; [] = the default
    selections: list[Selection] = field(default_factory=list)
    counts_given: bool = False

    def absolute(self, kind: str, k: int) -> int | None:
        """Absolute index of the k-th (0-based) stream of ``kind``, if the layout has it."""
        positions = [i for i, t in enumerate(self.layout) if t == kind]
        return positions[k] if -len(positions) <= k < len(positions) else None


def _n(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


def _ord(word: str) -> int:
    return int(re.match(r"\d+", word).group(0)) if word[0].isdigit() else ORDINALS[word]  # type: ignore[union-attr]


def plan_streams(request: str) -> StreamPlan:
    """Layout and selections from the request text (see the module docstring)."""
    low = (request or "").lower()
    plan = StreamPlan()
    counts: dict[str, int] = {}
    for m in re.finditer(_NUM + r"\s+(?:different\s+|separate\s+)?" + _KIND + r"\s+" + _ST, low):
        counts[m.group(2)] = max(counts.get(m.group(2), 0), _n(m.group(1)))
    plan.counts_given = bool(counts)
    wants: list[tuple[str, list[tuple[str, int]], str]] = []  # kind, [("abs"|"rel", n)], words
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, kind: str, readings: list[tuple[str, int]]) -> None:
        if any(a < m.end() and m.start() < b for a, b in taken):
            return
        taken.append((m.start(), m.end()))
        wants.append((kind, readings, m.group(0).strip()))

    for m in re.finditer(
        _ORD + r"\s+(?:\(?\w+\)?\s+)?" + _KIND + r"\s+" + _ST + r"(?:\s*\((\d+):(\d+)\))?", low
    ):
        k = _ord(m.group(1))
        readings = [("rel", k - 1 if k > 0 else -1)]
        if m.group(3):
            readings.append(("abs", int(m.group(4))))
        add(m, m.group(2), readings)
    for m in re.finditer(_KIND + r"\s+" + _ST + r"\s+(?:#|number\s+)?(?:(\d+):)?(\d+)\b(?!:)", low):
        n = int(m.group(3))
        add(m, m.group(1), [("abs", n)] if m.group(2) else [("rel", n), ("abs", n)])
    for m in re.finditer(
        _KIND + r"\s+(?:from|of|at)\s+(?:the\s+)?(?:stream|track|index)\s+(?:(\d+):)?(\d+)\b", low
    ):
        add(m, m.group(1), [("abs", int(m.group(3)))])
    for m in re.finditer(r"\b(?:stream|track)\s+(?:(\d+):)?(\d+)\s+(?:as|for)\s+(?:the\s+)?" + _KIND, low):
        add(m, m.group(3), [("abs", int(m.group(2)))])

    # the layout: the counts the request gives, else the fewest streams that make every selection possible
    if counts:
        plan.layout = (
            ["video"] * counts.get("video", 0)
            + ["audio"] * counts.get("audio", 0)
            + ["subtitle"] * counts.get("subtitle", 0)
        )
        if "video" not in counts and any(k == "video" for k, _r, _w in wants) or not plan.layout:
            plan.layout.insert(0, "video")
    elif wants:
        fixed = {n: kind for kind, readings, _w in wants for how, n in readings[:1] if how == "abs"}
        need = {
            kind: max([n + 1 for how, n in readings if how == "rel"] + [1]) for kind, readings, _w in wants
        }
        size = max([n + 1 for n in fixed] + [0])
        last_video = max([n for n, kind in fixed.items() if kind == "video"] + [-1])
        plan.layout = [fixed.get(i, "video" if i <= last_video else "audio") for i in range(size)]
        for kind in ("video", "audio", "subtitle"):
            missing = need.get(kind, 0) - plan.layout.count(kind)
            plan.layout += [kind] * max(0, missing)
        if "video" not in plan.layout and any(k == "audio" for k in plan.layout):
            plan.layout.insert(0, "video")  # a file with several audio tracks has a picture too
    for kind, readings, words in wants:
        indices = []
        for how, n in readings:
            idx = n if how == "abs" else plan.absolute(kind, n)
            if idx is not None and idx < len(plan.layout) and plan.layout[idx] == kind and idx not in indices:
                indices.append(idx)
        plan.selections.append(Selection(kind, indices, words))
    return plan


def stream_identity(kind: str, k: int) -> dict:
    """What makes the k-th stream of ``kind`` recognisable: its size or sample rate."""
    if kind == "video":
        w, h = VIDEO_SIZES[k % len(VIDEO_SIZES)]
        return {"width": w, "height": h}
    if kind == "audio":
        return {
            "sample_rate": SAMPLE_RATES[k % len(SAMPLE_RATES)],
            "channels": 2 if k < len(SAMPLE_RATES) else 1,
        }
    return {}


def identify(plan: StreamPlan, stream) -> int | None:
    """The absolute input stream index an output stream (``ffmpeg_probe.StreamInfo``) came from, if any."""
    k = 0
    for i, kind in enumerate(plan.layout):
        if kind != stream.type:
            continue
        ident = stream_identity(kind, k)
        if ident and all(
            getattr(stream, key) == value
            for key, value in ident.items()
            if not (key == "channels" and getattr(stream, key) is None)
        ):
            return i
        k += 1
    return None
