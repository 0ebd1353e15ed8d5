"""What the request asks for, as far as it can be checked mechanically (text heuristics, nothing runs).

Case-insensitive, deliberately simple rules; a task may override or add them with a ``checks`` dict using
the field names of ``Expectations``:

* file names in the request (``clip.mov``) must appear in the commands (after placeholders are mapped to
  them); a name after "to/into/as/named/called/save as" that is not an input is the expected output file;
* output container: "to/into/as EXT", else "a/an/in (up to two words) EXT" (mp4, mkv, webm, gif, mp3...);
* audio: "extract/rip the audio", "audio only" or an audio extension -> audio and no video;
  "remove/strip/mute/without/no audio", "silent" -> video and no audio; "keep/with/add ... audio" -> audio;
* codecs: h264/x264/avc, h265/hevc/x265, vp8, vp9, av1, prores, xvid/divx, mpeg2, theora, vorbis, alac, ac3
  anywhere; aac/mp3/opus/flac only next to "audio"/"codec"/"encode" (they are also container names);
* duration: "first/last N seconds|minutes", "from T1 to T2", "between T1 and T2", "N-second clip", "for N
  seconds", "trim/cut ... to N seconds" (times as ``90``, ``1:30``, ``00:01:30``); tolerance max(1 s, 10 %);
  "skip/remove/cut (out) ... around T" -> shorter than the input by 1 to 30 s;
* speed: "speed up by Nx" / "N times faster" / "slow down by Nx" -> duration = input / N (or x N);
* resolution: ``WxH``, ``scale=W:H`` (-1/-2 = free), ``720p``/``1080p``/``4k`` targets, "width N", "N px
  wide/tall", "half/double the size"; +-2 px; aspect: "N:M aspect (ratio)" -> display aspect N:M;
* frame rate: "N fps"/"N frames per second"; tolerance max(0.6, 10 %);
* bitrate: "N kbps" / "bitrate of Nk" / "N Mbps" (audio when the request is about audio, else video and
  total), "maximum bitrate" of an MP3 -> 320 kb/s; tolerance 15 %;
* subtitles: "burn/hardcode ... subtitles" -> video and no subtitle stream; "subtitle track"/"soft subs" ->
  a subtitle stream;
* "without re-encoding"/"stream copy"/"losslessly" -> output codecs equal the input's codecs;
* stream selection and the streams of the input: see ``ffmpeg_streams``; presets, codecs and filters the
  request names that ffmpeg lacks: see ``ffmpeg_names``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields

try:
    from . import ffmpeg_argv, ffmpeg_streams
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_argv  # type: ignore[no-redef]
    import ffmpeg_streams  # type: ignore[no-redef]

VIDEO_EXTS = ("mp4", "mov", "m4v", "mkv", "avi", "webm", "flv", "wmv", "ogv", "ts", "mpg", "mpeg", "3gp")
AUDIO_EXTS = ("mp3", "wav", "aac", "m4a", "flac", "ogg", "opus", "wma", "aiff", "ac3")
IMAGE_EXTS = ("png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff")
ALL_EXTS = VIDEO_EXTS + AUDIO_EXTS + IMAGE_EXTS + ("gif", "srt", "ass", "vtt", "m3u8", "txt")
EXT_ALIASES = {"jpeg": "jpg", "mpeg": "mpg", "tiff": "tif", "matroska": "mkv", "quicktime": "mov"}

_EXT_ALT = "|".join(sorted(ALL_EXTS + tuple(EXT_ALIASES), key=len, reverse=True))
_FILENAME_RE = re.compile(r"(?<![\w/.-])([\w][\w.-]*\.(?:" + _EXT_ALT + r"))(?![\w.])", re.I)
_UNIT = r"(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)"
_TIME = r"(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?|\d+(?:\.\d+)?)"

VIDEO_CODEC_WORDS = [
    (r"h\.?264|x264|avc", "h264"),
    (r"h\.?265|x265|hevc", "hevc"),
    (r"vp9", "vp9"),
    (r"vp8", "vp8"),
    (r"av1", "av1"),
    (r"prores", "prores"),
    (r"xvid|divx", "mpeg4"),
    (r"mpeg-?2", "mpeg2video"),
    (r"theora", "theora"),
]
AUDIO_CODEC_WORDS = [(r"vorbis", "vorbis"), (r"alac", "alac"), (r"e?ac-?3|dolby digital", "ac3")]
AMBIGUOUS_AUDIO_WORDS = [(r"aac", "aac"), (r"mp3", "mp3"), (r"opus", "opus"), (r"flac", "flac")]


@dataclass
class Expectations:
    """What the request asks for, as far as it can be checked mechanically."""

    ext: str | None = None
    output: list[str] = field(default_factory=list)  # candidate explicit output names
    audio: bool | None = None
    video: bool | None = None
    subtitles: bool | None = None
    vcodec: str | None = None
    acodec: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    copy: bool = False
    mentioned: list[str] = field(default_factory=list)
    latest_time: float = 0.0  # latest time mentioned: sizes the synthetic inputs
    dar: str | None = None  # "4:3"
    speed: float | None = None  # 3.0 = three times faster
    bitrate: int | None = None  # bits/s
    bitrate_of: str = "video"  # "audio" or "video"
    cuts_around: float | None = None  # a few seconds around this time must be gone
    source_height: int | None = None  # "my 4K video": the input's height
    streams: ffmpeg_streams.StreamPlan = field(default_factory=ffmpeg_streams.StreamPlan)
    request: str = ""  # the request text, lowercased


def _seconds(value: str, unit: str | None) -> float:
    t = ffmpeg_argv.parse_time(value) or 0.0
    if ":" in value or not unit:
        return t
    unit = unit.lower()
    if unit.startswith("ms") or unit.startswith("milli"):
        return t / 1000
    if unit.startswith("h"):
        return t * 3600
    if unit.startswith("m"):
        return t * 60
    return t


def expectations_from_request(request: str) -> Expectations:
    """Derive the checks from the request text (see the module docstring)."""
    exp = Expectations()
    text = request or ""
    exp.mentioned = list(dict.fromkeys(_FILENAME_RE.findall(text)))
    exp.output = [
        m.group(1)
        for m in re.finditer(
            r"\b(?:to|into|as|named|called|create|make|produce|output(?: it)?(?: to| as)?|output file|new file)\s+"
            r"['\"`]?([\w][\w.-]*\.(?:" + _EXT_ALT + r"))\b",
            text,
            re.I,
        )
    ]
    low = _FILENAME_RE.sub(" FILE ", text).lower()

    # container: "to/into/as mp4" wins over "a/an/in ... mp4" (which may name the input)
    best = None
    for m in re.finditer(
        r"\b(to|into|as|an?|in)\s+(?:an?\s+)?(?:[\w-]+\s+){0,2}?\.?(" + _EXT_ALT + r")\b(?![.\w])", low
    ):
        if best is None or m.group(1) in ("to", "into", "as") or best[0] not in ("to", "into", "as"):
            best = (m.group(1), m.group(2))
    if best:
        exp.ext = EXT_ALIASES.get(best[1], best[1])

    # streams
    if (
        re.search(
            r"\b(extract|rip|pull(?: out)?)\s+(?:the\s+|its\s+)?(audio|sound|soundtrack)\b|\baudio[- ]only\b"
            r"|\bonly (?:the )?(audio|sound)\b",
            low,
        )
        or exp.ext in AUDIO_EXTS
    ):
        exp.audio, exp.video = True, False
    elif re.search(
        r"\b(remove|strip|drop|delete|discard|mute|cut out|get rid of)\s+(?:the\s+|all\s+|its\s+|any\s+)?"
        r"(audio|sound)\b|\b(without|no)\s+(?:any\s+)?(audio|sound)\b(?!\s*(re-?encod|transcod|quality|loss))"
        r"|\bmute\b|\bsilent\b(?!\s+(?:audio|sound|track|soundtrack))|\bvideo[- ]only\b",
        low,
    ):
        exp.audio, exp.video = False, True
    elif re.search(
        r"\b(keep|keeping|preserve|retain|with|including)\s+(?:the\s+)?(audio|sound)\b"
        r"|\badd(?:ing)?\s+(?:an?\s+|the\s+)?(?:\w+\s+)?(audio|sound|soundtrack|music)\b",
        low,
    ):
        exp.audio = True
    if exp.ext in VIDEO_EXTS + IMAGE_EXTS + ("gif",):
        exp.video = True
    subs_word = r"(\bsub(title)?s?\b|\bcaptions?\b|\.(srt|ass|ssa|vtt)\b)"
    burn_word = r"\b(burn\w*|hard-?cod\w*|hard-?sub\w*)\b"
    if re.search(burn_word + ".*" + subs_word + "|" + subs_word + ".*" + burn_word, text.lower()):
        exp.subtitles, exp.video = False, True
    elif re.search(r"\b(soft[- ]?sub\w*|subtitle (track|stream))\b", low):
        exp.subtitles = True

    # codecs
    for pattern, codec in VIDEO_CODEC_WORDS:
        if re.search(r"\b(?:lib)?(" + pattern + r")\b", low):
            exp.vcodec = codec
            break
    for pattern, codec in AUDIO_CODEC_WORDS:
        if re.search(r"\b(?:lib)?(" + pattern + r")\b", low):
            exp.acodec = codec
    for pattern, codec in AMBIGUOUS_AUDIO_WORDS:
        near = (
            r"\b(audio|codec|encode[ds]?|re-?encode[ds]?)\b(?:\W+\w+){0,3}?\W+(" + pattern + r")\b"
            r"|\b(" + pattern + r")\s+(audio|codec|track|stream|sound)\b"
        )
        if codec != exp.ext and re.search(near, low):
            exp.acodec = codec
    exp.copy = bool(
        re.search(
            r"\b(without|no|don'?t|do not)\s+(re-?encod\w*|transcod\w*)|\bstream[- ]copy\b"
            r"|\blossless(ly)?\b|-c copy\b",
            low,
        )
    )

    # duration and seek positions
    tu = _TIME + r"\s*" + _UNIT + r"?"
    durations = []
    for m in re.finditer(r"\b(?:first|last|initial|final|opening|closing)\s+" + tu + r"\b", low):
        durations.append(_seconds(m.group(1), m.group(2)))
    for m in re.finditer(
        r"\b(?:from|between|starting at|start at)\s+(?:second\s+)?"
        + tu
        + r"\s*(?:to|and|until|till|through|-|–)\s*(?:second\s+)?"
        + tu
        + r"\b",
        low,
    ):
        u1, u2 = m.group(2) or m.group(4), m.group(4) or m.group(2)
        a, b = _seconds(m.group(1), u1), _seconds(m.group(3), u2)
        if b > a:
            durations.append(b - a)
    for m in re.finditer(
        _TIME + r"[\s-]*" + _UNIT + r"[\s-]+(?:long|clip|segment|excerpt|portion|sample|gif|video|"
        r"preview|snippet|section|part|cut)\b",
        low,
    ):
        durations.append(_seconds(m.group(1), m.group(2)))
    for m in re.finditer(
        r"\b(?:for|lasting|duration of|next|only)\s+(?:the\s+)?(?:first\s+)?"
        + _TIME
        + r"\s*"
        + _UNIT
        + r"\b",
        low,
    ):
        durations.append(_seconds(m.group(1), m.group(2)))
    for m in re.finditer(
        r"\b(?:trim|cut|shorten|limit)\b[^.]*?\bto\s+(?:the\s+first\s+)?" + _TIME + r"\s*" + _UNIT + r"\b",
        low,
    ):
        durations.append(_seconds(m.group(1), m.group(2)))
    if durations:
        exp.duration = durations[0]
    prose = re.sub(r"'[^']*'|`[^`]*`|\S*=\S*", " ", low)  # not "overlay=10:10" of a filter the user quotes
    times = [
        _seconds(m.group(1), m.group(2)) for m in re.finditer(r"\b" + _TIME + r"\s*" + _UNIT + r"\b", prose)
    ]
    times += [_seconds(t, None) for t in re.findall(r"\b(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)\b", prose)]
    exp.latest_time = max(times + [exp.duration or 0.0])

    # resolution and frame rate
    w, h = ffmpeg_streams.VIDEO_SIZES[0]
    m = re.search(r"\b([1-9]\d{1,4})\s*[x×]\s*([1-9]\d{1,4})\b", low)
    m2 = re.search(
        r"\b(?:scale|resize|resolution)\b[^,;]*?\b([1-9]\d{2,4}|-[12]):([1-9]\d{1,4}|-[12])\b", low
    )
    if m:
        exp.width, exp.height = int(m.group(1)), int(m.group(2))
    elif m2:
        sw, sh = int(m2.group(1)), int(m2.group(2))
        exp.width, exp.height = (sw if sw > 0 else None), (sh if sh > 0 else None)
    else:
        if m := re.search(
            r"\b(?:to|into|at|in)\s+(?:a\s+)?(\d{3,4})p\b|\b(\d{3,4})p\s+(?:resolution|output)", low
        ):
            exp.height = int(m.group(1) or m.group(2))
        elif re.search(r"\b(?:to|into|at)\s+(?:4k|uhd|2160p)\b", low):
            exp.height = 2160
        if m := re.search(
            r"\bwidth\s*(?:of|to|=|:)?\s*(\d{2,5})\b|\b(\d{2,5})\s*(?:px|pixels)\s+wide\b", low
        ):
            exp.width = int(m.group(1) or m.group(2))
        if m := re.search(
            r"\bheight\s*(?:of|to|=|:)?\s*(\d{2,5})\b|\b(\d{2,5})\s*(?:px|pixels)\s+(?:tall|high)\b", low
        ):
            exp.height = int(m.group(1) or m.group(2))
        if re.search(r"\bhalf\s+(?:the\s+|its\s+)?(size|resolution|dimensions)\b", low):
            exp.width, exp.height = w // 2, h // 2
        elif re.search(r"\bdouble\s+(?:the\s+|its\s+)?(size|resolution|dimensions)\b", low):
            exp.width, exp.height = w * 2, h * 2
    if m := re.search(
        r"\b(\d+(?:\.\d+)?)\s*(?:fps|frames per second|frames/s)\b|\bframe ?rate (?:of |to )?(\d+(?:\.\d+)?)\b",
        low,
    ):
        exp.fps = float(m.group(1) or m.group(2))
    _more(exp, low)
    exp.streams = ffmpeg_streams.plan_streams(text)
    exp.request = text.lower()
    return exp


def _more(exp: Expectations, low: str) -> None:
    """Aspect, speed, bitrate, cuts and the source's size."""
    if m := re.search(r"\b(\d{1,2}):(\d{1,2})\s+(?:display\s+)?aspect", low):
        exp.dar = f"{m.group(1)}:{m.group(2)}"
    if m := re.search(r"\b(4k|uhd|2160p|1440p|1080p|720p)\s+(?:video|file|footage|source|clip|movie)", low):
        exp.source_height = {"4k": 2160, "uhd": 2160}.get(m.group(1)) or int(m.group(1)[:-1])
    if m := re.search(
        r"\b(speed\s+up|faster|slow\s*(?:down|er)|slow[- ]motion)\b[^.]*?\b(\d+(?:\.\d+)?)\s*(?:x|times)\b"
        r"|\b(\d+(?:\.\d+)?)\s*(?:x|times)\s+(faster|slower|speed)",
        low,
    ):
        word, factor = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        f = float(factor)
        if f > 0:
            exp.speed = 1 / f if "slow" in word else f
    elif re.search(r"\bhalf[- ]speed\b", low):
        exp.speed = 0.5
    audio_talk = exp.video is False or bool(re.search(r"\baudio\b", low) and not re.search(r"\bvideo\b", low))
    m = re.search(r"\b(\d+(?:\.\d+)?)\s*(k|m)(?:bps|bits?/s|b/s|bit/s|b)?\b(?!\w)", low)
    if m and re.search(r"bitrate|bps|b/s|bit", low):
        exp.bitrate = int(float(m.group(1)) * (1000 if m.group(2) == "k" else 1_000_000))
        exp.bitrate_of = "audio" if audio_talk else "video"
    if (
        exp.bitrate is None
        and exp.ext == "mp3"
        and re.search(r"\b(max(imum)?|highest)\s+(bit\s*rate|bitrate)", low)
    ):
        exp.bitrate, exp.bitrate_of = 320_000, "audio"
    if (m := re.search(r"\b(?:skip|skips|remove|cut\s+out|drop)\b[^.]*?\baround\b[^.]*?" + _TIME, low)) or (
        m := re.search(r"\bat\s+" + _TIME + r"\b[^.]*\b(?:skip|remove|cut\s+out)\b", low)
    ):
        exp.cuts_around = _seconds(m.group(1), None)


def expectations(task: dict, request: str) -> Expectations:
    """Heuristics from the request, overridden by ``task["checks"]`` when present."""
    exp = expectations_from_request(request)
    checks = task.get("checks") if isinstance(task, dict) else None
    if isinstance(checks, dict):
        names = {f.name for f in fields(Expectations)}
        for key, value in checks.items():
            if key in names:
                setattr(exp, key, [value] if key == "output" and isinstance(value, str) else value)
    return exp
