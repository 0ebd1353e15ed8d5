"""What is in a media file: probe (ffprobe JSON, or ``ffmpeg -i`` when there is no ffprobe) and full decode.

The static ffmpeg of imageio-ffmpeg ships without ffprobe, so both ways give the same ``MediaInfo``:
streams (type, codec, codec tag, size, SAR/DAR, frame rate, sample rate, channels, bitrate, duration) and
the container's format, duration and bitrate. MP3 files also get their header kind (Xing = VBR, Info = CBR
as written by LAME, VBRI = VBR) read from the first frame. ``decode`` plays the whole file into ``-f null``
and reports the first error line: a file can exit 0 and still not play (HEVC in AVI comes out as
``rawvideo`` that fails to decode).

Commands run under the sandbox's isolation and limits (``ffmpeg_sandbox.run_limited``): the file was
written by an untrusted command.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

try:
    from . import ffmpeg_sandbox
except ImportError:  # loaded as a plain file
    import ffmpeg_sandbox  # type: ignore[no-redef]


@dataclass
class StreamInfo:
    type: str  # video | audio | subtitle | data | attachment
    codec: str
    codec_tag: str | None = None
    width: int | None = None
    height: int | None = None
    sar: str | None = None  # "1:1"
    dar: str | None = None  # "16:9"
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bit_rate: int | None = None  # bits/s
    duration: float | None = None

    def facts(self) -> str:
        """One line a person can read: ``video h264 (avc1) 320x240 SAR 1:1 DAR 4:3 10fps``."""
        parts = [self.type, self.codec + (f" ({self.codec_tag})" if self.codec_tag else "")]
        if self.width:
            parts.append(f"{self.width}x{self.height}")
        if self.sar and self.dar:
            parts.append(f"SAR {self.sar} DAR {self.dar}")
        if self.fps:
            parts.append(f"{self.fps:g}fps")
        if self.sample_rate:
            parts.append(f"{self.sample_rate}Hz")
        if self.channels:
            parts.append(f"{self.channels}ch")
        if self.bit_rate:
            parts.append(f"{self.bit_rate // 1000}kb/s")
        return " ".join(parts)


@dataclass
class MediaInfo:
    format_name: str
    duration: float | None
    bit_rate: int | None = None
    streams: list[StreamInfo] = field(default_factory=list)
    mp3_header: str | None = None  # "VBR (Xing)", "CBR (Info)", "VBR (VBRI)", "none"

    def of_type(self, kind: str) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == kind]

    def summary(self) -> str:
        dur = f", {self.duration:.2f}s" if self.duration is not None else ""
        streams = "; ".join(s.facts() for s in self.streams) or "no streams"
        return f"{self.format_name}{dur}: {streams}" + (
            f"; mp3 header {self.mp3_header}" if self.mp3_header else ""
        )

    def to_data(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


DECODE_ERRORS = 3  # error lines from which a decode counts as failed

_CODEC_TYPE = {
    "Video": "video",
    "Audio": "audio",
    "Subtitle": "subtitle",
    "Data": "data",
    "Attachment": "attachment",
}


def _num(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _int(v) -> int | None:
    n = _num(v)
    return int(n) if n is not None else None


def _rate(v) -> float | None:
    a, _, b = str(v).partition("/")
    na, nb = _num(a), _num(b or 1)
    return round(na / nb, 3) if na is not None and nb else None


def _channels(layout: str) -> int | None:
    named = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}
    if layout in named:
        return named[layout]
    m = re.match(r"(\d+) channels", layout)
    return int(m.group(1)) if m else None


def parse_ffmpeg_info(stderr: str) -> MediaInfo | None:
    """Parse the listing ``ffmpeg -i FILE`` prints for its first input."""
    m = re.search(r"^Input #0, (.+?), from ", stderr, flags=re.M)
    if not m:
        return None
    info = MediaInfo(format_name=m.group(1), duration=None)
    d = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", stderr)
    if d:
        info.duration = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3))
    if b := re.search(r"Duration:.*?bitrate: (\d+) kb/s", stderr):
        info.bit_rate = int(b.group(1)) * 1000
    for line in re.findall(r"^\s*Stream #0:\d+.*$", stderr, flags=re.M):
        sm = re.search(r": (Video|Audio|Subtitle|Data|Attachment): ([\w-]+)(.*)$", line)
        if not sm:
            continue
        st = StreamInfo(type=_CODEC_TYPE[sm.group(1)], codec=sm.group(2))
        rest = sm.group(3)
        if tag := re.search(r"\(([^()/]+?) / 0x[0-9A-Fa-f]+\)", rest):
            st.codec_tag = tag.group(1).strip()
        if br := re.search(r"(\d+) kb/s", rest):
            st.bit_rate = int(br.group(1)) * 1000
        if st.type == "video":
            if res := re.search(r",\s*([1-9]\d*)x([1-9]\d*)(?=[\s,\[]|$)", rest):
                st.width, st.height = int(res.group(1)), int(res.group(2))
            if ar := re.search(r"SAR (\d+:\d+) DAR (\d+:\d+)", rest):
                st.sar, st.dar = ar.group(1), ar.group(2)
            if fps := re.search(r"([\d.]+)(k?) fps", rest) or re.search(r"([\d.]+)(k?) tbr", rest):
                st.fps = float(fps.group(1)) * (1000 if fps.group(2) else 1)
        elif st.type == "audio" and (sr := re.search(r"(\d+) Hz, ([^,]+)", rest)):
            st.sample_rate, st.channels = int(sr.group(1)), _channels(sr.group(2).strip())
        info.streams.append(st)
    return info


def parse_ffprobe_json(text: str) -> MediaInfo | None:
    """Parse ``ffprobe -show_format -show_streams -of json`` output."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    fmt = data.get("format") or {}
    if not fmt:
        return None
    info = MediaInfo(
        format_name=fmt.get("format_name", "?"),
        duration=_num(fmt.get("duration")),
        bit_rate=_int(fmt.get("bit_rate")),
    )
    for s in data.get("streams", []):
        tag = s.get("codec_tag_string")
        st = StreamInfo(
            type=s.get("codec_type", "data"),
            codec=s.get("codec_name", "?"),
            codec_tag=None if not tag or tag.startswith("[") else tag,
            bit_rate=_int(s.get("bit_rate")),
            duration=_num(s.get("duration")),
        )
        if st.type == "video":
            st.width, st.height = s.get("width"), s.get("height")
            st.sar, st.dar = s.get("sample_aspect_ratio"), s.get("display_aspect_ratio")
            st.fps = _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate"))
        elif st.type == "audio":
            st.sample_rate, st.channels = _int(s.get("sample_rate")), s.get("channels")
        info.streams.append(st)
    if info.duration is None:
        info.duration = max((s.duration for s in info.streams if s.duration is not None), default=None)
    return info


def framecrc_durations(text: str) -> dict[int, float]:
    """Per-stream durations from ``-f framecrc`` output (the ffmpeg -i listing has none)."""
    bases = {
        int(i): Fraction(int(a), int(b)) for i, a, b in re.findall(r"^#tb (\d+): (\d+)/(\d+)", text, re.M)
    }
    span: dict[int, list[int]] = {}
    for idx, _dts, pts, dur in re.findall(r"^\s*(\d+),\s*(-?\d+),\s*(-?\d+),\s*(\d+),", text, re.M):
        lo_hi = span.setdefault(int(idx), [int(pts), int(pts) + int(dur)])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], int(pts)), max(lo_hi[1], int(pts) + int(dur))
    return {i: round(float((hi - lo) * bases[i]), 3) for i, (lo, hi) in span.items() if i in bases}


def mp3_header(path: str) -> str:
    """The kind of info header in the first MP3 frame: what players use to tell VBR from CBR."""
    data = Path(path).read_bytes()[:16384]
    start = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big") if data[:3] == b"ID3" else 0
    head = data[start : start + 2048]
    for tag, kind in ((b"Xing", "VBR (Xing)"), (b"Info", "CBR (Info)"), (b"VBRI", "VBR (VBRI)")):
        if tag in head:
            return kind
    return "none"


def _run(
    cmd: list[str], cwd: str, mode: str, timeout: float, stdout: bool
) -> tuple[int | None, str | None, str]:
    fd, log = tempfile.mkstemp(prefix="kilngit-ffmpeg-probe-", dir=ffmpeg_sandbox.scratch_root())
    os.close(fd)
    try:
        rc, killed, _t = ffmpeg_sandbox.run_limited(
            ffmpeg_sandbox.wrap(mode, cwd, cmd),
            cwd,
            ffmpeg_sandbox.Limits(timeout=timeout, cpu_seconds=60),
            log,
            stdout_to_log=stdout,
        )
        return rc, killed, Path(log).read_bytes().decode("utf-8", "replace")
    finally:
        os.unlink(log)


def probe_file(
    path: str, ffmpeg: str, isolation: str | None = None, timeout: float = 20.0
) -> MediaInfo | None:
    """Streams and container facts of one media file (None if it is not readable media)."""
    cwd, name = os.path.split(os.path.abspath(path))
    target = "file:" + name  # "file:" so that '%' or ':' in the name mean nothing special
    ffprobe = ffmpeg_sandbox.find_ffprobe(ffmpeg)
    if ffprobe:
        cmd = [
            ffprobe,
            "-v",
            "error",
            "-protocol_whitelist",
            "file",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            target,
        ]
    else:
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-protocol_whitelist", "file", "-i", target]
    mode = isolation if isolation is not None else ffmpeg_sandbox.isolation_mode(ffmpeg)
    _rc, killed, text = _run(cmd, cwd, mode, timeout, stdout=bool(ffprobe))
    if killed:
        return None
    info = parse_ffprobe_json(text) if ffprobe else parse_ffmpeg_info(text)
    if info is not None and not ffprobe and info.streams:
        cmd = [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-protocol_whitelist",
            "file",
            "-i",
            target,
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "framecrc",
            "-",
        ]
        _rc, killed, text = _run(cmd, cwd, mode, timeout, stdout=True)
        durations = {} if killed else framecrc_durations(text)
        for k, stream in enumerate(info.streams):
            stream.duration = durations.get(k)
    if info is not None and any(s.codec == "mp3" for s in info.streams) and name.lower().endswith(".mp3"):
        info.mp3_header = mp3_header(path)
    return info


def decode(path: str, ffmpeg: str, isolation: str | None = None, timeout: float = 60.0) -> str | None:
    """Decode the audio and video of a file to nowhere; None when it plays, else the first error line.

    A stray error or two (a second MP3 header in the middle of ``concat:a.mp3|b.mp3``) is what players skip
    over; three or more error lines, or a non-zero exit, mean the file does not play.
    """
    cwd, name = os.path.split(os.path.abspath(path))
    cmd = [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-i",
        "file:" + name,
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-f",
        "null",
        "-",
    ]
    mode = isolation if isolation is not None else ffmpeg_sandbox.isolation_mode(ffmpeg)
    rc, killed, text = _run(cmd, cwd, mode, timeout, stdout=False)
    if killed:
        return f"decoding was stopped ({killed})"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if rc != 0 or len(lines) >= DECODE_ERRORS:
        first = lines[0] if lines else f"exit {rc}"
        return re.sub(r" @ 0x[0-9a-f]+", "", first)[:200] + (
            f" ({len(lines)} error lines)" if len(lines) > 1 else ""
        )
    return None
