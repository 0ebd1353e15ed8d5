"""Deep checks: what came out of the commands (probed facts) against what the request asks.

Every check is a ``Check(what, wanted, got, ok)`` so the explanation and the result's ``details`` show the
evidence a person can verify. Checks on one output use its ``ffmpeg_probe.MediaInfo``; ``decode`` errors
make any output fail (a file can exit 0 and not play). Stream identity (which input stream ended up in the
output) uses the distinct sizes / sample rates of the synthetic input (``ffmpeg_streams``).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction

try:
    from . import ffmpeg_names, ffmpeg_streams
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_names  # type: ignore[no-redef]
    import ffmpeg_streams  # type: ignore[no-redef]

EXT_ALIASES = {"jpeg": "jpg", "mpeg": "mpg", "tiff": "tif"}


@dataclass
class Check:
    what: str
    wanted: object
    got: object
    ok: bool

    def line(self) -> str:
        mark = "ok" if self.ok else "FAILED"
        return f"{mark}: {self.what} (wanted {self.wanted}, got {self.got})"

    def to_data(self) -> dict:
        return asdict(self)


def ext_of(name: str) -> str:
    ext = os.path.splitext(name)[1].lstrip(".").lower()
    return EXT_ALIASES.get(ext, ext)


def matches(name: str, produced: dict[str, int]) -> list[str]:
    """Produced files corresponding to an output name (``%d`` patterns allowed)."""
    norm = os.path.normpath(name)
    if "%" in norm:
        rx = re.sub(r"%0?\d*d", r"\\d+", re.escape(norm).replace("%%", "%").replace(r"\%", "%"))
        return sorted(f for f in produced if re.fullmatch(rx, f))
    return [norm] if norm in produced else []


def _dar(stream) -> Fraction | None:
    if stream.dar and re.fullmatch(r"\d+:\d+", stream.dar) and not stream.dar.startswith("0"):
        a, b = stream.dar.split(":")
        return Fraction(int(a), int(b))
    if stream.width and stream.height:
        sar = Fraction(1)
        if stream.sar and re.fullmatch(r"[1-9]\d*:[1-9]\d*", stream.sar):
            a, b = stream.sar.split(":")
            sar = Fraction(int(a), int(b))
        return Fraction(stream.width, stream.height) * sar
    return None


def output_checks(
    exp, probe, input_probe, input_duration: float, plan: ffmpeg_streams.StreamPlan
) -> list[Check]:
    """Checks of the main output against the request (``exp``: ``ffmpeg_request.Expectations``)."""
    checks: list[Check] = []
    video, audio, subs = probe.of_type("video"), probe.of_type("audio"), probe.of_type("subtitle")
    v = video[0] if video else None
    for flag, streams, kind in (
        (exp.video, video, "video"),
        (exp.audio, audio, "audio"),
        (exp.subtitles, subs, "subtitle"),
    ):
        if flag is not None:
            checks.append(
                Check(f"{kind} stream", "present" if flag else "none", len(streams), bool(streams) == flag)
            )
    if exp.vcodec:
        checks.append(
            Check(
                "video codec", exp.vcodec, [s.codec for s in video], any(s.codec == exp.vcodec for s in video)
            )
        )
    if exp.vcodec == "hevc" and re.search(
        r"\b(apple|quicktime|ios|iphone|ipad|safari|macos|hvc1)\b", request_words(exp)
    ):
        tags = [s.codec_tag for s in video]
        checks.append(Check("HEVC tagged hvc1 (what Apple players need)", "hvc1", tags, "hvc1" in tags))
    if probe.mp3_header and (
        m := re.search(r"\b(cbr|constant bit ?rate|vbr|variable bit ?rate)\b", request_words(exp))
    ):
        want = "CBR" if m.group(1).startswith(("cbr", "constant")) else "VBR"
        checks.append(Check("MP3 header", want, probe.mp3_header, probe.mp3_header.startswith(want)))
    if exp.acodec:
        checks.append(
            Check(
                "audio codec",
                exp.acodec,
                [s.codec for s in audio],
                any(s.codec == exp.acodec or s.codec.startswith(exp.acodec) for s in audio),
            )
        )
    d = probe.duration
    if exp.duration is not None:
        tol = max(1.0, 0.1 * exp.duration)
        checks.append(
            Check(
                "duration (s)",
                f"{exp.duration:g} +-{tol:g}",
                d and round(d, 2),
                d is not None and abs(d - exp.duration) <= tol,
            )
        )
    if exp.speed:
        want = input_duration / exp.speed
        # a few frames of slack: our inputs are 10 fps, and versions round the last frame differently
        tol = max(0.25, 0.08 * want, 3 / (v.fps or 10) if v else 0)
        for s in video[:1] + audio[:1]:
            got = s.duration if s.duration is not None else d
            checks.append(
                Check(
                    f"{s.type} duration after {exp.speed:g}x speed (s)",
                    f"{want:.2f} +-{tol:.2f}",
                    got and round(got, 2),
                    got is not None and abs(got - want) <= tol,
                )
            )
    if exp.cuts_around is not None:
        checks.append(
            Check(
                f"a few seconds around {exp.cuts_around:g}s removed (s)",
                f"{input_duration - 30:g}..{input_duration - 1:g}",
                d and round(d, 2),
                d is not None and input_duration - 30 <= d <= input_duration - 1,
            )
        )
    if exp.width or exp.height:
        ok = (
            v is not None
            and v.width is not None
            and all(
                want is None or abs(got - want) <= 2
                for want, got in ((exp.width, v.width), (exp.height, v.height))
            )
        )
        checks.append(
            Check("size", f"{exp.width or '*'}x{exp.height or '*'}", v and f"{v.width}x{v.height}", ok)
        )
    if exp.dar:
        a, b = exp.dar.split(":")
        want = Fraction(int(a), int(b))
        got = _dar(v) if v else None
        checks.append(
            Check(
                "display aspect ratio",
                exp.dar,
                v and f"{v.width}x{v.height} SAR {v.sar} DAR {v.dar}",
                got is not None and abs(float(got) - float(want)) <= 0.02 * float(want),
            )
        )
    if exp.fps:
        checks.append(
            Check(
                "frame rate",
                exp.fps,
                v and v.fps,
                v is not None and v.fps is not None and abs(v.fps - exp.fps) <= max(0.6, 0.1 * exp.fps),
            )
        )
    if exp.bitrate:
        checks.append(_bitrate_check(exp, probe, audio, video))
    if exp.copy and input_probe is not None:
        for kind in ("video", "audio"):
            src = sorted({s.codec for s in input_probe.of_type(kind)})
            for s in probe.of_type(kind):
                checks.append(Check(f"{kind} stream copied", src, s.codec, s.codec in src))
    if (
        not plan.selections
        and len(video) > 1
        and not re.search(r"\b(streams|tracks|angles)\b", request_words(exp))
    ):
        checks.append(Check("one video stream (the request selects no streams)", 1, len(video), False))
    checks += selection_checks(exp, plan, video, audio)
    return checks


def request_words(exp) -> str:
    return getattr(exp, "request", "") or ""


def _bitrate_check(exp, probe, audio, video) -> Check:
    want = exp.bitrate
    if exp.bitrate_of == "audio":
        got = (audio[0].bit_rate if audio else None) or (probe.bit_rate if not video else None)
        ok = got is not None and abs(got - want) <= 0.15 * want
        return Check("audio bitrate (kb/s)", f"{want // 1000} +-15%", got and got // 1000, ok)
    # synthetic pictures compress far below any real target: only overshooting is evidence
    got = (video[0].bit_rate if video else None) or probe.bit_rate
    return Check(
        "video bitrate at most the target (kb/s)",
        f"<= {want * 1.15 // 1000:g}",
        got and got // 1000,
        got is not None and got <= want * 1.15,
    )


def selection_checks(exp, plan: ffmpeg_streams.StreamPlan, video, audio) -> list[Check]:
    """The input streams the request picks are the ones in the output, and only those."""
    checks: list[Check] = []
    if not plan.selections:
        return checks
    keep_size = not (exp.width or exp.height or exp.dar)
    for kind, streams in (("video", video), ("audio", audio)):
        wanted = [s for s in plan.selections if s.kind == kind and s.indices]
        if not wanted or (kind == "video" and not keep_size):
            continue
        got = [ffmpeg_streams.identify(plan, s) for s in streams]
        for sel in wanted:
            checks.append(
                Check(
                    f"{sel.said!r} -> input stream",
                    " or ".join(f"0:{i}" for i in sel.indices),
                    [f"0:{g}" if g is not None else "?" for g in got],
                    any(g in sel.indices for g in got),
                )
            )
        checks.append(
            Check(f"number of {kind} streams", len(wanted), len(streams), len(streams) == len(wanted))
        )
    return checks


def impossible_selection_checks(plan: ffmpeg_streams.StreamPlan, prose: str) -> list[Check]:
    """A selected stream the input cannot have: the answer must say so."""
    out = []
    for sel in plan.selections:
        if not sel.indices:
            said = bool(re.search(r"\b(stream|track)", prose or "", re.I)) and any(
                ffmpeg_names._ADMIT.search(s) and re.search(r"\b(stream|track)s?\b", s, re.I)
                for s in re.split(r"(?<=[.!?])\s+", prose or "")
            )
            out.append(
                Check(
                    f"{sel.said!r} does not exist in an input with {plan.layout.count(sel.kind)} {sel.kind} "
                    "stream(s): the answer says so",
                    "said",
                    "said" if said else "not said",
                    said,
                )
            )
    return out


def name_checks(missing, asked, prose: str, argv_text: str, ignored: list[str]) -> list[Check]:
    """Presets/codecs/filters the request names: made-up ones must be called out, real ones used."""
    checks = []
    for name in asked:
        used = re.search(r"(?<![\w-])" + re.escape(name.name) + r"(?![\w-])", argv_text) is not None
        if name in missing:
            said = ffmpeg_names.says_missing(prose, name)
            checks.append(
                Check(
                    f"the {name.kind} {name.name!r} does not exist in ffmpeg: the answer says so and "
                    "does not use it",
                    "said, not used",
                    f"{'said' if said else 'not said'}, {'used' if used else 'not used'}",
                    said and not used,
                )
            )
        elif name.kind == "preset":
            honoured = used and "preset" not in ignored
            checks.append(
                Check(
                    f"preset {name.name!r} used and honoured by the encoder",
                    "yes",
                    "ignored by ffmpeg" if used and not honoured else ("yes" if used else "not used"),
                    honoured,
                )
            )
    return checks


def ignored_options(stderr: str) -> list[str]:
    """Options ffmpeg warned it did not use ("Codec AVOption preset ... has not been used for any stream")."""
    return sorted(set(re.findall(r"AVOption (\w+) .*?has not been used", stderr or "")))
