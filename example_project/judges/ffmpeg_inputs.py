"""Synthetic input files for the ffmpeg execution judge.

Every input a command names is fabricated, so the judge never needs real media:

* audio/video containers (.mp4 .mov .mkv .avi .webm .ts .mpg .wmv .ogv ...):
  the streams the request implies (``ffmpeg_streams``: by default one
  ``testsrc2`` video and one ``sine`` stereo track; "4 video streams and 8
  audio streams" gives exactly that), video stream k in its own size
  (320x180 first; the request's "4K video" sets the first one's size) at 10
  fps (1 s GOP, so stream-copy trims land close to the requested times),
  audio stream k at its own sample rate, encoded with codecs typical for the
  container (falling back to ffmpeg's defaults);
* audio files (.mp3 .wav .aac .m4a .flac .ogg .opus ...): the sine only;
* images (.png .jpg .bmp .webp .tif) one frame; .gif an animated 5 fps clip;
* subtitle files (.srt .ass .ssa .vtt): written as text, cues every 3 s;
* image sequences (``img%03d.png``) and globs (``*.png``): 30 numbered frames;
* ``concat:a|b`` parts, and ``-f concat`` list files (two clips);
* files named in filters (``subtitles=subs.srt``, ``movie=logo.png``,
  ``drawtext=textfile=t.txt``); a video referenced by ``subtitles=`` or mapped
  with ``-map N:s`` gets a subtitle track;
* fonts (.ttf .otf, e.g. ``drawtext=fontfile=arial.ttf``): a copy of a font
  of this system (DejaVu or Liberation), when there is one;
* anything else: Matroska content (ffmpeg probes content, not names).

The duration covers every time the request and the commands mention. Media are
generated once per (extension, duration bucket, streams, size, subtitles) into
a per-user cache directory under the system temp dir, atomically (write to a
temporary name then ``os.replace``) so that concurrent judges can share it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

try:
    from . import ffmpeg_streams
except ImportError:  # loaded as a plain file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ffmpeg_streams  # type: ignore[no-redef]

VIDEO_SIZE, VIDEO_FPS = ffmpeg_streams.VIDEO_SIZES[0], 10
FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/*/*.ttf",
    "/usr/share/fonts/**/*.ttf",
    "/usr/local/share/fonts/**/*.ttf",
)
DURATION_BUCKETS = (4, 12, 30, 60, 120, 300, 600)

_V = "testsrc2=size={w}x{h}:rate={fps}:duration={d}"
_A = "sine=frequency={f}:sample_rate={sr}:duration={d},aformat=channel_layouts={layout}"
_X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(VIDEO_FPS), "-pix_fmt", "yuv420p"]
_AAC = ["-c:a", "aac"]
# extension -> (needs video, needs audio, preferred codec arguments)
MEDIA_SPECS: dict[str, tuple[bool, bool, list[str]]] = {
    **{
        e: (True, True, _X264 + _AAC) for e in ("mp4", "mov", "m4v", "mkv", "flv", "ts", "m2ts", "mts", "3gp")
    },
    "avi": (True, True, ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame"]),
    "webm": (
        True,
        True,
        ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libvorbis"],
    ),
    "mpg": (True, True, ["-c:v", "mpeg2video", "-c:a", "mp2"]),
    "mpeg": (True, True, ["-c:v", "mpeg2video", "-c:a", "mp2"]),
    "wmv": (True, True, ["-c:v", "wmv2", "-c:a", "wmav2"]),
    "ogv": (True, True, ["-c:v", "libtheora", "-c:a", "libvorbis"]),
    "mp3": (False, True, ["-c:a", "libmp3lame"]),
    "wav": (False, True, ["-c:a", "pcm_s16le"]),
    "aac": (False, True, _AAC),
    "m4a": (False, True, _AAC),
    "flac": (False, True, ["-c:a", "flac"]),
    "ogg": (False, True, ["-c:a", "libvorbis"]),
    "opus": (False, True, ["-c:a", "libopus"]),
    "wma": (False, True, ["-c:a", "wmav2"]),
    "aiff": (False, True, ["-c:a", "pcm_s16be"]),
    "ac3": (False, True, ["-c:a", "ac3"]),
    "gif": (True, False, ["-vf", "fps=5"]),
}
IMAGE_EXTS = ("png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff")
SUBTITLE_EXTS = ("srt", "ass", "ssa", "vtt")
_SUB_CODEC = {"mkv": "srt", "webm": "webvtt", "mp4": "mov_text", "mov": "mov_text", "m4v": "mov_text"}


def duration_bucket(seconds: float) -> int:
    """Smallest cached input length covering ``seconds`` (plus a margin)."""
    for b in DURATION_BUCKETS:
        if seconds + 2 <= b:
            return b
    return DURATION_BUCKETS[-1]


def subtitle_text(ext: str, duration: float) -> bytes:
    """A small subtitle file covering the whole input, in the given format."""
    cues = [(t, min(t + 2.5, duration)) for t in range(0, int(duration), 3)]

    def ts(sec: float, sep: str) -> str:
        return f"{int(sec // 3600):02d}:{int(sec % 3600 // 60):02d}:{int(sec % 60):02d}{sep}{int(round(sec % 1 * 1000)):03d}"

    if ext in ("ass", "ssa"):
        head = (
            "[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 240\n\n[V4+ Styles]\n"
            "Format: Name, Fontname, Fontsize, PrimaryColour, Alignment\nStyle: Default,DejaVu Sans,20,&H00FFFFFF,2\n\n"
            "[Events]\nFormat: Layer, Start, End, Style, Text\n"
        )
        body = "".join(
            f"Dialogue: 0,{ts(a, '.')[1:-1]},{ts(b, '.')[1:-1]},Default,Line {k + 1}\n"
            for k, (a, b) in enumerate(cues)
        )
        return (head + body).encode()
    if ext == "vtt":
        return (
            "WEBVTT\n\n"
            + "".join(f"{ts(a, '.')} --> {ts(b, '.')}\nLine {k + 1}\n\n" for k, (a, b) in enumerate(cues))
        ).encode()
    return "".join(
        f"{k + 1}\n{ts(a, ',')} --> {ts(b, ',')}\nLine {k + 1}\n\n" for k, (a, b) in enumerate(cues)
    ).encode()


@dataclass(frozen=True)
class MediaSpec:
    """What one synthetic media file holds."""

    ext: str
    duration: int
    layout: tuple[str, ...] = ()  # stream kinds in order; () = the container's usual streams
    size: tuple[int, int] | None = None  # of the first video stream (default ``VIDEO_SIZE``)
    subs: bool = False

    def key(self) -> str:
        layout = "".join(k[0] for k in self.layout) or "d"
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "s"
        return f"{'subs-' if self.subs else ''}{self.duration}s-{layout}-{size}.{self.ext or 'bin'}"

    def streams(self) -> list[tuple[str, int]]:
        """(kind, k-th of its kind) for every stream."""
        video, audio, _codecs = MEDIA_SPECS.get(self.ext, (True, True, []))
        kinds = list(self.layout) or (["video"] if video else []) + (["audio"] if audio else [])
        seen: dict[str, int] = {}
        out = []
        for kind in kinds:
            out.append((kind, seen.get(kind, 0)))
            seen[kind] = seen.get(kind, 0) + 1
        return out


class InputCache:
    """Synthetic media files generated with lavfi sources, cached by ``MediaSpec.key()``."""

    def __init__(self, ffmpeg: str, root: str | None = None):
        self.ffmpeg = ffmpeg
        tag = hashlib.sha1(ffmpeg.encode()).hexdigest()[:8]
        self.root = root or os.path.join(tempfile.gettempdir(), f"kilngit-ffmpeg-inputs-{os.getuid()}-{tag}")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        st = os.lstat(self.root)
        if st.st_uid != os.getuid() or not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o077:
            # a shared temp dir: never trust a cache someone else could have prepared
            self.root = tempfile.mkdtemp(prefix="kilngit-ffmpeg-inputs-")

    def _sources(self, spec: MediaSpec) -> list[str]:
        """lavfi inputs for the streams; more than two become one filter graph (fewer threads: a sandbox
        allows few processes, and ffmpeg 7+ runs a thread per input)."""
        graphs = []
        for kind, k in spec.streams():
            if kind == "video":
                w, h = (
                    (spec.size or VIDEO_SIZE)
                    if k == 0
                    else ffmpeg_streams.stream_identity("video", k).values()
                )
                graphs.append(_V.format(w=w, h=h, fps=VIDEO_FPS, d=spec.duration))
            elif kind == "audio":
                ident = ffmpeg_streams.stream_identity("audio", k)
                layout = "stereo" if ident["channels"] == 2 else "mono"
                graphs.append(
                    _A.format(f=440 + 110 * k, sr=ident["sample_rate"], layout=layout, d=spec.duration)
                )
        if len(graphs) <= 2:
            return [a for g in graphs for a in ("-f", "lavfi", "-i", g)]
        return ["-filter_complex", ";".join(f"{g}[s{i}]" for i, g in enumerate(graphs))] + [
            a for i in range(len(graphs)) for a in ("-map", f"[s{i}]")
        ]

    def _generate(self, dest: str, spec: MediaSpec) -> None:
        ext = spec.ext
        _video, _audio, codec_args = MEDIA_SPECS.get(ext, (True, True, _X264 + _AAC))
        if ext in IMAGE_EXTS:
            w, h = spec.size or VIDEO_SIZE
            src = ["-f", "lavfi", "-i", _V.format(w=w, h=h, fps=VIDEO_FPS, d=1)]
            codec_args = ["-frames:v", "1"] + (["-q:v", "3"] if ext in ("jpg", "jpeg") else [])
        else:
            src = self._sources(spec)
        n = src.count("-i")
        maps = sum((["-map", str(k)] for k in range(n)), []) if n > 1 else []
        if spec.subs and ext in _SUB_CODEC:
            srt = f"{dest}.{os.getpid()}.srt"
            Path(srt).write_bytes(subtitle_text("srt", spec.duration))
            if "-filter_complex" in src:  # the graph's streams are mapped already; the subtitles are input 0
                src, maps = ["-i", srt] + src, ["-map", "0", "-c:s", _SUB_CODEC[ext]]
            else:
                src += ["-i", srt]
                maps = sum((["-map", str(k)] for k in range(n + 1)), []) + ["-c:s", _SUB_CODEC[ext]]
        fmt = ["-f", "matroska"] if ext not in MEDIA_SPECS and ext not in IMAGE_EXTS else []
        tmp = f"{dest}.{os.getpid()}.tmp.{ext if not fmt else 'mkv'}"
        # one thread per encoder and filter graph: a file with 8 streams must not need more threads than a
        # sandbox's process limit allows
        base = (
            [self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-filter_threads", "1"]
            + src
            + maps
            + ["-threads", "1"]
        )
        try:
            for extra in (codec_args, []):  # preferred codecs, then the container defaults
                proc = subprocess.run(
                    base + extra + fmt + [tmp], capture_output=True, timeout=300, stdin=subprocess.DEVNULL
                )
                if proc.returncode == 0:
                    os.replace(tmp, dest)  # atomic: concurrent judges never see half a file
                    return
        finally:
            for leftover in (tmp, f"{dest}.{os.getpid()}.srt"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        raise RuntimeError(f"cannot generate a synthetic .{ext} input: {proc.stderr.decode()[-500:]}")

    def media(
        self,
        ext: str,
        duration: int,
        subs: bool = False,
        layout: tuple[str, ...] = (),
        size: tuple[int, int] | None = None,
    ) -> str:
        """Path of a cached synthetic file (generated once)."""
        spec = MediaSpec(ext.lower(), duration, tuple(layout), size, subs)
        dest = os.path.join(self.root, spec.key())
        if not os.path.exists(dest):
            self._generate(dest, spec)
        return dest


def system_font() -> str | None:
    """A TrueType font of this system to stand in for the one a command names."""
    for pattern in FONT_GLOBS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    return None


def _ext(name: str) -> str:
    return os.path.splitext(name)[1].lstrip(".").lower()


@dataclass
class InputPlan:
    """How the first media input is built (what the deep checks compare against)."""

    layout: tuple[str, ...] = ()
    size: tuple[int, int] | None = None
    duration: int = 4
    main: str | None = None  # the name of the input the plan applies to
    files: dict[str, str | bytes] = field(default_factory=dict)


def plan_inputs(
    infos: list,
    cache: InputCache,
    duration: int,
    layout: tuple[str, ...] = (),
    size: tuple[int, int] | None = None,
    produced_before: list[set[str]] | None = None,
) -> InputPlan:
    """Files to place in the folder for the steps (``ffmpeg_argv.CommandInfo`` each, in order).

    Inputs an earlier step writes are not made up. ``layout``/``size`` apply to the first media input.
    Returns relative name -> cached file path (to copy) or literal bytes, in ``InputPlan.files``.
    """
    plan = InputPlan(layout=tuple(layout), size=size, duration=duration)
    files = plan.files
    written: set[str] = set()

    def add(name: str, subs: bool = False) -> None:
        if not name or name in files or name in written:
            return
        ext = _ext(name)
        if ext in SUBTITLE_EXTS:
            files[name] = subtitle_text(ext, duration)
        elif ext == "txt":
            files[name] = b"Hello from the kilngit judge\n"
        elif ext in ("ttf", "otf", "ttc"):
            font = system_font()
            if font:
                files[name] = font
        elif ext in IMAGE_EXTS:
            files[name] = cache.media(ext, 1, size=size if plan.main is None else None)
        elif ext == "gif":
            files[name] = cache.media(ext, min(duration, 12))
        else:
            first = plan.main is None and (ext in MEDIA_SPECS or ext not in IMAGE_EXTS)
            if first:
                plan.main = name
            files[name] = cache.media(ext, duration, subs, layout if first else (), size if first else None)

    for info in infos:
        sub_names = {name for flt, name in info.filter_files if flt in ("subtitles", "ass")}
        sub_indices = {
            int(m.group(1))
            for opt, val in info.options
            if opt == "map" and val and (m := re.match(r"-?(\d+):s\b", val))
        }
        for idx, inp in enumerate(info.inputs):
            name, opts = inp.name, inp.options
            if opts.get("f") == "lavfi":
                continue
            if name.startswith("concat:"):
                for part in name[len("concat:") :].split("|"):
                    add(part)
            elif opts.get("f") == "concat" and name not in written:
                clip = cache.media("mp4", duration)
                files.setdefault("part1.mp4", clip)
                files.setdefault("part2.mp4", clip)
                files[name] = b"file 'part1.mp4'\nfile 'part2.mp4'\n"
            elif ("*" in name or "?" in name or "%" in name) and name not in written:
                ext = _ext(name) or "png"
                frame = cache.media(ext if ext in IMAGE_EXTS else "png", 1)
                pattern = name.replace("*", "frame%03d").replace("?", "x") if "%" not in name else name
                start = int(opts.get("start_number", "1")) if opts.get("start_number", "1").isdigit() else 1
                for k in range(start, start + 30):
                    try:
                        files.setdefault(pattern % k, frame)
                    except (TypeError, ValueError):
                        add(name)
                        break
            else:
                add(name, subs=idx in sub_indices or name in sub_names)
        for flt, name in info.filter_files:
            add(name, subs=flt in ("subtitles", "ass"))
        written |= {o.name for o in info.outputs}
    return plan
