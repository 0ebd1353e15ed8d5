"""Execution judge for the "natural language -> one ffmpeg command" example task.

Contract (kilngit code judge)::

    judge(task: dict, input: str, output: str) -> {"scores": {...}, "explanation": str}

Scores, each 1.0 or 0.0:

* ``safe``: the output is a single plain ``ffmpeg`` invocation that stays in its
  working directory (see ``ffmpeg_policy`` for the exact rules). Unsafe commands
  are never executed and score 0 everywhere.
* ``runs``: executed in the sandbox (see ``ffmpeg_sandbox``) on synthetic inputs
  (see ``ffmpeg_inputs``), it exited 0 within the limits and wrote every output
  it names (non-empty; for ``%d`` patterns at least one file).
* ``correct``: it runs and the produced file matches what the request asks, as
  far as simple heuristics on the request text can tell (``Expectations``).
  When nothing checkable is asked, ``correct`` equals ``runs``.

Request heuristics (case-insensitive, deliberately simple; a task may override or
add them with a ``checks`` dict using the field names of ``Expectations``):

* file names in the request (``clip.mov``) must appear in the command; a name
  after "to/into/as/named/called/save as" that is not an input of the command
  is the expected output file;
* output container: "to/into/as EXT", else "a/an/in (up to two words) EXT"
  (mp4, mkv, webm, gif, mp3, png, ...), checked on the output names;
* audio: "extract/rip the audio", "audio only" or an audio extension -> audio
  and no video; "remove/strip/mute/without/no audio", "silent" (not "silent
  audio") -> video and no audio; "keep/with/add ... audio" -> an audio stream;
* codecs: h264/x264/avc, h265/hevc/x265, vp8, vp9, av1, prores, xvid/divx,
  mpeg2, theora, vorbis, alac, ac3 anywhere; aac/mp3/opus/flac only next to
  "audio"/"codec"/"encode" (they are also container names);
* duration: "first/last N seconds|minutes", "from T1 to T2", "between T1 and
  T2", "N-second clip", "for N seconds", "trim/cut ... to N seconds" (times as
  ``90``, ``1:30``, ``00:01:30``); tolerance max(1 s, 10 %);
* resolution: ``WxH``, ``scale=W:H`` (-1/-2 = free), ``720p``, "width N",
  "N pixels wide/tall", "half/double the size" (inputs are 320x240); +-2 px;
* frame rate: "N fps"/"N frames per second"; tolerance max(0.6, 10 %);
* subtitles: "burn/hardcode ... subtitles" -> video and no subtitle stream;
  "subtitle track"/"soft subs" -> a subtitle stream;
* "without re-encoding"/"stream copy"/"losslessly" -> output codecs equal the
  (synthetic) input's codecs.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields

try:
    from . import ffmpeg_inputs, ffmpeg_policy, ffmpeg_sandbox
except ImportError:  # loaded as a plain file rather than as judges.ffmpeg_exec
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_inputs  # type: ignore[no-redef]
    import ffmpeg_policy  # type: ignore[no-redef]
    import ffmpeg_sandbox  # type: ignore[no-redef]

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


def _seconds(value: str, unit: str | None) -> float:
    t = ffmpeg_policy.parse_time(value) or 0.0
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
            r"\b(?:to|into|as|named|called|output(?: it)?(?: to| as)?)\s+['\"`]?([\w][\w.-]*\.(?:"
            + _EXT_ALT
            + r"))\b",
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
    times = [
        _seconds(m.group(1), m.group(2)) for m in re.finditer(r"\b" + _TIME + r"\s*" + _UNIT + r"\b", low)
    ]
    times += [_seconds(t, None) for t in re.findall(r"\b(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)\b", low)]
    exp.latest_time = max(times + [exp.duration or 0.0])

    # resolution and frame rate
    w, h = ffmpeg_inputs.VIDEO_SIZE
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
        if m := re.search(r"\b(\d{3,4})p\b", low):
            exp.height = int(m.group(1))
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
    return exp


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


# ----------------------------------------------------------------------- checking


def _matches(name: str, produced: dict[str, int]) -> list[str]:
    """Produced files corresponding to an output name (``%d`` patterns allowed)."""
    norm = os.path.normpath(name)
    if "%" in norm:
        rx = re.escape(norm).replace("%%", "%")
        rx = re.sub(r"%0?\d*d", r"\\d+", rx.replace(r"\%", "%"))
        return sorted(f for f in produced if re.fullmatch(rx, f))
    return [norm] if norm in produced else []


def _ext(name: str) -> str:
    ext = os.path.splitext(name)[1].lstrip(".").lower()
    return EXT_ALIASES.get(ext, ext)


def _wanted_output(exp: Expectations, info) -> str | None:
    """The output file name the request asks for, if any (inputs excluded)."""
    inputs = {i.name for i in info.inputs}
    wanted = [n for n in exp.output if n not in inputs]
    return wanted[-1] if wanted else None


def inspection_order(exp: Expectations, info, produced: dict[str, int]) -> list[str]:
    """Produced files worth probing, best first: the requested name, the outputs
    with the requested extension, then the first file of every declared output."""
    declared = [o.name for o in info.outputs if o.name != "-"]
    wanted = _wanted_output(exp, info)
    order = _matches(wanted, produced)[:1] if wanted else []
    order += [m for n in declared if exp.ext and _ext(n) == exp.ext for m in _matches(n, produced)[:1]]
    order += [m for n in declared for m in _matches(n, produced)[:1]]
    return list(dict.fromkeys(order))


_PROBED_FIELDS = ("audio", "video", "subtitles", "vcodec", "acodec", "duration", "width", "height", "fps")


def evaluate(exp: Expectations, info, result, input_info=None) -> tuple[bool, list[str], list[str]]:
    """``(runs, passed, failed)`` for a sandbox result against the expectations."""
    if result.killed:
        return False, [], [f"killed by the sandbox ({result.killed})"]
    produced = {k: v for k, v in result.files.items() if v > 0}
    declared = [o.name for o in info.outputs if o.name != "-"]
    missing = [n for n in declared if not _matches(n, produced)]
    runs = result.returncode == 0 and not missing
    passed: list[str] = []
    failed: list[str] = []
    if missing:
        failed.append(f"missing output(s): {', '.join(missing)}")

    def check(ok: bool, what: str) -> None:
        (passed if ok else failed).append(what)

    tokens = " ".join(info.argv)
    for name in exp.mentioned:
        check(name in tokens, f"uses {name}")
    wanted = _wanted_output(exp, info)
    if wanted:
        check(bool(_matches(wanted, produced)), f"writes {wanted}")
    if exp.ext:
        check(any(_ext(n) == exp.ext for n in declared), f"output is .{exp.ext}")

    order = inspection_order(exp, info, produced)
    target = order[0] if order else None
    probe = result.probes.get(target) if target else None
    if target and probe is None:
        failed.append(f"{target} is not readable media")
    if probe is None:
        needs_probe = exp.copy or any(getattr(exp, f) is not None for f in _PROBED_FIELDS)
        if needs_probe and not target:
            failed.append("no output file to inspect")
        return runs, passed, failed
    video, audio, subs = probe.of_type("video"), probe.of_type("audio"), probe.of_type("subtitle")
    for flag, streams, kind in (
        (exp.video, video, "video"),
        (exp.audio, audio, "audio"),
        (exp.subtitles, subs, "subtitle"),
    ):
        if flag is not None:
            check(bool(streams) == flag, f"{'has' if flag else 'no'} {kind} stream")
    if exp.vcodec:
        check(any(s.codec == exp.vcodec for s in video), f"video codec {exp.vcodec}")
    if exp.acodec:
        check(
            any(s.codec == exp.acodec or s.codec.startswith(exp.acodec) for s in audio),
            f"audio codec {exp.acodec}",
        )
    if exp.duration is not None:
        d = probe.duration
        tol = max(1.0, 0.1 * exp.duration)
        check(
            d is not None and abs(d - exp.duration) <= tol,
            f"duration {d if d is None else round(d, 2)} ~ {exp.duration:g}s",
        )
    if exp.width or exp.height:
        v = video[0] if video else None
        ok = (
            v is not None
            and v.width is not None
            and all(
                want is None or abs(got - want) <= 2
                for want, got in ((exp.width, v.width), (exp.height, v.height))
            )
        )
        check(ok, f"size {exp.width or '*'}x{exp.height or '*'}")
    if exp.fps:
        v = video[0] if video else None
        check(
            v is not None and v.fps is not None and abs(v.fps - exp.fps) <= max(0.6, 0.1 * exp.fps),
            f"{exp.fps:g} fps",
        )
    if exp.copy and input_info is not None:
        for kind in ("video", "audio"):
            src = {s.codec for s in input_info.of_type(kind)}
            for s in probe.of_type(kind):
                check(s.codec in src, f"{kind} stream copied ({s.codec})")
    return runs, passed, failed


# -------------------------------------------------------------------------- judge


def _result(correct: bool, runs: bool, safe: bool, explanation: str) -> dict:
    return {
        "scores": {"correct": float(correct), "runs": float(runs), "safe": float(safe)},
        "explanation": explanation,
    }


# Limits for every judged command (tests lower the timeout to keep the suite fast).
LIMITS = ffmpeg_sandbox.Limits()

_INPUT_INFO: dict[str, object] = {}


def _input_info(path: str, ffmpeg: str):
    """Probe of one of our own cached synthetic inputs (trusted: no isolation needed)."""
    if path not in _INPUT_INFO:
        _INPUT_INFO[path] = ffmpeg_sandbox.probe_file(path, ffmpeg, isolation="none")
    return _INPUT_INFO[path]


def judge(task: dict, input: str, output: str) -> dict:
    """Score one generated ffmpeg command by running it in a sandbox."""
    argv, problems = ffmpeg_policy.parse_command_text(output)
    if not problems:
        problems = ffmpeg_policy.check_command(argv)
    if problems:
        return _result(False, False, False, "refused, not run: " + "; ".join(problems[:6]))
    info = ffmpeg_policy.analyze_command(argv)
    exp = expectations(task or {}, input or "")
    ffmpeg = ffmpeg_sandbox.find_ffmpeg()
    if not ffmpeg:
        return _result(False, False, True, "error: cannot execute, no ffmpeg binary (PATH or imageio-ffmpeg)")

    duration = ffmpeg_inputs.duration_bucket(max(ffmpeg_policy.time_span_needed(info), exp.latest_time))
    cache = ffmpeg_inputs.InputCache(ffmpeg)
    files = ffmpeg_inputs.plan_inputs(info, cache, duration)
    out_dirs = sorted({os.path.dirname(o.name) for o in info.outputs if os.path.dirname(o.name)})
    concat = {i.index for i in info.inputs if i.name.startswith("concat:")}
    result = ffmpeg_sandbox.run_in_sandbox(
        argv,
        files,
        input_indices=[i.index for i in info.inputs],
        concat_inputs=concat,
        output_dirs=out_dirs,
        ffmpeg=ffmpeg,
        limits=LIMITS,
        probe_select=lambda produced: inspection_order(exp, info, produced),
    )
    if result.error:
        return _result(False, False, True, f"error: {result.error}")

    input_info = None
    media_inputs = [f for f in files.values() if isinstance(f, str)]
    if exp.copy and len(set(media_inputs)) == 1:
        input_info = _input_info(media_inputs[0], ffmpeg)
    runs, passed, failed = evaluate(exp, info, result, input_info)

    status = f"exit {result.returncode}" if result.killed is None else f"killed ({result.killed})"
    parts = [f"safe; ran in {result.elapsed:.2f}s, {status}"]
    if not runs and not result.killed:
        last = [ln for ln in result.stderr_tail.strip().splitlines() if ln.strip()][-2:]
        if last:
            parts.append("ffmpeg said: " + " | ".join(last)[-300:])
    for name, probe in list(result.probes.items())[:3]:
        parts.append(f"{name}: {probe.summary() if probe else 'unreadable'}")
    if passed:
        parts.append("ok: " + ", ".join(passed))
    if failed:
        parts.append("failed: " + ", ".join(failed))
    if not (passed or failed) and runs:
        parts.append("nothing checkable in the request: correct = runs")
    return _result(runs and not failed, runs, True, "; ".join(parts))
