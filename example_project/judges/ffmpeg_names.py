"""Presets, codecs and filters a request names, and whether the ffmpeg at hand has them.

Users ask for things that do not exist ("the ultra_fast preset", "the turbo_mode preset", "the bicubic_sharp
filter"). A good answer says so and uses a real alternative; an answer that passes the made-up name on
either fails to run or has it silently ignored by ffmpeg ("Codec AVOption preset ... has not been used").
``asked_names`` finds the names; ``missing`` tells which ones ffmpeg lacks (presets from the encoders'
documented lists, codecs, encoders and filters from ``ffmpeg -codecs/-encoders/-filters`` of the binary
used, scaler flags from swscale's list); ``says_missing`` reads the answer's prose for an admission.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

# x264/x265 presets, NVENC/QSV/AMF names, libvpx deadlines, libaom/SVT-AV1 numbers, ProRes profiles.
PRESETS = frozenset(
    [
        "ultrafast",
        "superfast",
        "veryfast",
        "faster",
        "fast",
        "medium",
        "slow",
        "slower",
        "veryslow",
        "placebo",
        "p1",
        "p2",
        "p3",
        "p4",
        "p5",
        "p6",
        "p7",
        "default",
        "hp",
        "hq",
        "bd",
        "ll",
        "llhq",
        "llhp",
        "lossless",
        "losslesshp",
        "good",
        "best",
        "realtime",
        "speed",
        "balanced",
        "quality",
        "proxy",
        "lt",
        "standard",
        "hq",
        "4444",
        "4444xq",
    ]
) | {str(n) for n in range(14)}
SCALER_FLAGS = frozenset(
    [
        "fast_bilinear",
        "bilinear",
        "bicubic",
        "experimental",
        "neighbor",
        "area",
        "bicublin",
        "gauss",
        "sinc",
        "lanczos",
        "spline",
        "print_info",
        "accurate_rnd",
        "full_chroma_int",
        "full_chroma_inp",
        "bitexact",
    ]
)
_ALIASES = {
    "h265": "hevc",
    "x265": "hevc",
    "h.265": "hevc",
    "x264": "h264",
    "h.264": "h264",
    "avc": "h264",
    "h.263": "h263",
    "xvid": "mpeg4",
    "divx": "mpeg4",
    "mpeg-2": "mpeg2video",
    "mpeg2": "mpeg2video",
    "dolby": "ac3",
    "vorbis": "vorbis",
    "lame": "libmp3lame",
}
_GENERIC = frozenset(
    [
        "the",
        "a",
        "an",
        "same",
        "video",
        "audio",
        "this",
        "that",
        "my",
        "your",
        "default",
        "best",
        "good",
        "any",
        "fastest",
        "slowest",
        "highest",
        "lowest",
        "right",
        "proper",
        "following",
        "copy",
        "new",
        "original",
    ]
)


@dataclass(frozen=True)
class Name:
    kind: str  # "preset", "codec" or "filter"
    name: str


def asked_names(request: str) -> list[Name]:
    """Presets, codecs/encoders and filters the request names ("the X preset", "preset X", "X codec")."""
    low = (request or "").lower()
    found: list[Name] = []
    for kind, pattern in (
        (
            "preset",
            r"\b([\w.+-]+)\s+(?:encoding\s+)?preset\b|\bpreset\s+(?:of\s+|called\s+)?['\"`]?([\w.+-]+)",
        ),
        ("codec", r"\b([\w.+-]+)\s+(?:video\s+|audio\s+)?(?:codec|encoder)\b"),
        ("filter", r"\b([\w.+-]+)\s+(?:scaling\s+)?filter\b"),
    ):
        for m in re.finditer(pattern, low):
            word = (m.group(1) or (m.group(2) if m.lastindex and m.lastindex > 1 else None) or "").strip(
                ".,'\"`"
            )
            if word and word not in _GENERIC and not word.isdigit() or (kind == "preset" and word.isdigit()):
                found.append(Name(kind, word))
    return list(dict.fromkeys(found))


_CAPS: dict[str, dict[str, frozenset[str]]] = {}


def capabilities(ffmpeg: str) -> dict[str, frozenset[str]]:
    """Codec, encoder and filter names of this ffmpeg binary (asked once per process; our own trusted call)."""
    if ffmpeg not in _CAPS:
        caps: dict[str, frozenset[str]] = {}
        for key, flag, rx in (
            ("codecs", "-codecs", r"^\s*[D.][E.][VASDT][I.][L.][S.]\s+(\S+)"),
            ("encoders", "-encoders", r"^\s*[VASFXBD.]{6}\s+(\S+)"),
            ("filters", "-filters", r"^\s*[TSC.]{2,3}\s+(\S+)\s+\S+->\S+"),
        ):
            try:
                out = subprocess.run(
                    [ffmpeg, "-hide_banner", "-nostdin", flag],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    stdin=subprocess.DEVNULL,
                ).stdout
            except (OSError, subprocess.SubprocessError):
                out = ""
            caps[key] = frozenset(re.findall(rx, out, flags=re.M)) - {"=", "------"}
        _CAPS[ffmpeg] = caps
    return _CAPS[ffmpeg]


def exists(name: Name, ffmpeg: str) -> bool:
    """Whether ffmpeg has the named preset, codec/encoder or filter (unknown capability lists: assume yes)."""
    word = name.name
    if name.kind == "preset":
        return word in PRESETS
    caps = capabilities(ffmpeg)
    if name.kind == "codec":
        if not caps["codecs"] and not caps["encoders"]:
            return True
        word = _ALIASES.get(word, word)
        return word in caps["codecs"] or word in caps["encoders"] or f"lib{word}" in caps["encoders"]
    if not caps["filters"]:
        return True
    return word in caps["filters"] or word in SCALER_FLAGS


def missing(request: str, ffmpeg: str) -> list[Name]:
    """The names the request asks for that do not exist in this ffmpeg."""
    return [n for n in asked_names(request) if not exists(n, ffmpeg)]


_ADMIT = re.compile(
    r"(does ?n[o']t|do ?n[o']t|is ?n[o']t|is not|are not|aren't|no such|not an? (?:real|valid|actual|"
    r"existing|recogni[sz]ed|standard|supported)|not (?:a )?valid|invalid|not exist|non-?existent|"
    r"unknown|not available|not supported|unsupported|there is no|there's no|no ['\"`]?\w+['\"`]? "
    r"preset|not recogni[sz]ed|made[- ]up|not part of)",
    re.I,
)


def says_missing(answer_prose: str, name: Name) -> bool:
    """True when a sentence of the answer's prose names ``name`` and says it does not exist."""
    for sentence in re.split(r"(?<=[.!?])\s+|\n\s*\n", answer_prose or ""):
        if name.name in sentence.lower() and _ADMIT.search(sentence):
            return True
    return False
