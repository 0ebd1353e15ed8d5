"""Tests for the example project's sandboxed ffmpeg execution judge (example_project/judges).

Policy tests are pure and always run; execution tests need an ffmpeg binary (system or
imageio-ffmpeg) and are skipped without one.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"
if str(EXAMPLE_PROJECT) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_PROJECT))  # what the kilngit runner does for project judges

ffmpeg_exec = importlib.import_module("judges.ffmpeg_exec")
ffmpeg_policy = importlib.import_module("judges.ffmpeg_policy")
ffmpeg_sandbox = importlib.import_module("judges.ffmpeg_sandbox")

FFMPEG = ffmpeg_sandbox.find_ffmpeg()
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg binary (PATH or imageio-ffmpeg)")


def _has_filter(name: str) -> bool:
    if FFMPEG is None:
        return False
    out = subprocess.run([FFMPEG, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def problems(text: str) -> list[str]:
    argv, found = ffmpeg_policy.parse_command_text(text)
    return found or ffmpeg_policy.check_command(argv)


# ------------------------------------------------------------------------ policy (pure)

HOSTILE = [
    "rm -rf /",
    "ffmpeg -i a.mp4 out.mp4; rm -rf ~",
    "ffmpeg -i a.mp4 out.mp4 && curl x",
    "ffmpeg -i a.mp4 out.mp4 || true",
    "ffmpeg -i a.mp4 out.mp4 | tee log",
    "ffmpeg -i a.mp4 out.mp4 > log.txt",
    "ffmpeg -i a.mp4 out.mp4 &",
    "ffmpeg -i a.mp4 out.mp4\nrm -rf /",
    "ffmpeg -i `whoami`.mp4 out.mp4",
    "ffmpeg -i a.mp4 $(echo out).mp4",
    'ffmpeg -i a.mp4 "$(echo out).mp4"',
    "ffmpeg -i a.mp4 -vf \"drawtext=text='${HOME}'\" o.mp4",
    "(ffmpeg -i a.mp4 o.mp4)",
    'sh -c "ffmpeg -i a.mp4 out.mp4"',
    'bash -c "ffmpeg -i a.mp4 out.mp4"',
    "sudo ffmpeg -i a.mp4 out.mp4",
    "FOO=1 ffmpeg -i a.mp4 out.mp4",
    "/usr/bin/ffmpeg -i a.mp4 out.mp4",
    "ffmpeg -i a.mp4 out.mp4 ffmpeg -i b.mp4 c.mp4",
    "ffmpeg -i a.mp4 -f flv rtmp://example.com/live/key",
    "ffmpeg -i a.mp4 -f mpegts udp://10.0.0.1:1234",
    "ffmpeg -i a.mp4 -f rtp rtp://10.0.0.1:5004",
    "ffmpeg -i http://example.com/a.mp4 out.mp4",
    "ffmpeg -i file:/etc/passwd out.mp4",
    "ffmpeg -i a.mp4 pipe:1",
    "ffmpeg -i - out.mp4",
    "ffmpeg -i a.mp4 -f mp4 -",
    "ffmpeg -i a.mp4 /tmp/x.mp4",
    "ffmpeg -i a.mp4 ../out.mp4",
    "ffmpeg -i sub/../../etc/passwd out.mp4",
    "ffmpeg -i a.mp4 ~/out.mp4",
    "ffmpeg -i a.mp4 -vf subtitles=/etc/passwd out.mp4",
    "ffmpeg -i a.mp4 -vf \"subtitles='../secret.srt'\" out.mp4",
    'ffmpeg -f lavfi -i "movie=/etc/passwd" out.mp4',
    'ffmpeg -i a.mp4 -vf "drawtext=textfile=/etc/shadow" out.mp4',
    "ffmpeg -i a.mp4 -passlogfile /tmp/x out.mp4",
    "ffmpeg -i a.mp4 -progress tcp://10.0.0.1:9 out.mp4",
    'ffmpeg -i a.mp4 -f tee "out.mp4|[f=mpegts]udp://10.0.0.1:1"',
    "ffmpeg -i a.mp4 -protocol_whitelist file,http,tcp out.mp4",
    "ffmpeg -f concat -safe 0 -i list.txt out.mp4",
    "ffmpeg -listen 1 -i a.mp4 out.mp4",
    "ffmpeg -f x11grab -i :0.0 out.mp4",
    "ffmpeg -f v4l2 -i /dev/video0 out.mp4",
    "ffmpeg -f alsa -i default out.wav",
    "ffmpeg -i a.mp4 -vf frei0r=distort0r out.mp4",
    "ffmpeg -i a.mp4 -vf zmq,scale=2:2 out.mp4",
    "ffmpeg -i 'a.mp4\x00' out.mp4",
    "ffmpeg -i a.mp4 'unterminated.mp4",
    "",
]

GOOD = [
    "ffmpeg -i clip.mov -c:v libx264 -c:a aac clip.mp4",
    "```bash\nffmpeg -i clip.mov clip.mp4\n```",
    "$ ffmpeg -i clip.mov clip.mp4",
    "ffmpeg -i clip.mov \\\n  -c:v libx264 clip.mp4  # convert",
    'ffmpeg -i in.mp4 -vf "scale=iw/2:ih/2,setsar=1/1" -r 30000/1001 out.mp4',
    'ffmpeg -i in.mp4 -filter_complex "[0:v]split[a][b];[a]palettegen[p];[b][p]paletteuse" out.gif',
    "ffmpeg -i in.mp4 -vf \"drawtext=text='Hello':x=10:y=10:fontcolor=#ffffff\" out.mp4",
    'ffmpeg -i in.mp4 -vf "pad=1280:720:(ow-iw)/2:(oh-ih)/2" out.mp4',
    "ffmpeg -i in.mp4 -vf \"subtitles=subs.srt:force_style='Fontsize=24'\" out.mp4",
    "ffmpeg -i in.mp4 -vf \"select='eq(pict_type\\,I)'\" -vsync vfr thumbs%02d.png",
    'ffmpeg -i "concat:a.ts|b.ts" -c copy joined.ts',
    "ffmpeg -f concat -i list.txt -c copy out.mp4",
    "ffmpeg -framerate 10 -i img%03d.png -pix_fmt yuv420p out.mp4",
    "ffmpeg -f lavfi -i anullsrc=r=44100:cl=stereo -i in.mp4 -shortest -c:v copy out.mp4",
    'ffmpeg -i "my clip.mp4" -map_metadata -1 -metadata title="A B" -c copy "my clip.mkv"',
    "ffmpeg -i in.mp4 -f null -",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_policy_refuses_hostile_commands(text):
    assert problems(text), f"not refused: {text!r}"


@pytest.mark.parametrize("text", GOOD)
def test_policy_accepts_ordinary_commands(text):
    assert problems(text) == []


def test_parse_command_text_strips_wrappers_without_a_shell():
    argv, found = ffmpeg_policy.parse_command_text("```sh\n$ ffmpeg -i 'a b.mp4' \\\n  out.mp4 # done\n```")
    assert found == []
    assert argv == ["ffmpeg", "-i", "a b.mp4", "out.mp4"]
    # quoted metacharacters are literal for ffmpeg: no shell ever sees them
    argv, found = ffmpeg_policy.parse_command_text("ffmpeg -i a.mp4 -vf \"scale=2:2;null\" 'o;k.mp4'")
    assert found == [] and ffmpeg_policy.check_command(argv)  # but ';' in a file name is refused


def test_analyze_command_finds_inputs_outputs_and_filter_files():
    argv, _ = ffmpeg_policy.parse_command_text(
        "ffmpeg -y -ss 2 -i in.mp4 -i logo.png -filter_complex \"[0:v][1:v]overlay,subtitles='s.srt'\" -an -t 3 out.mp4"
    )
    info = ffmpeg_policy.analyze_command(argv)
    assert [i.name for i in info.inputs] == ["in.mp4", "logo.png"]
    assert info.inputs[0].options == {"ss": "2"}
    assert [o.name for o in info.outputs] == ["out.mp4"]
    assert info.filter_files == [("subtitles", "s.srt")]
    assert ffmpeg_policy.time_span_needed(info) == 3.0


def test_parse_time():
    assert ffmpeg_policy.parse_time("90") == 90
    assert ffmpeg_policy.parse_time("1:30") == 90
    assert ffmpeg_policy.parse_time("00:01:30.5") == 90.5
    assert ffmpeg_policy.parse_time("1500ms") == 1.5
    assert ffmpeg_policy.parse_time("-5") == -5
    assert ffmpeg_policy.parse_time("soon") is None


def test_request_heuristics():
    e = ffmpeg_exec.expectations_from_request("convert clip.mov to mp4 and keep the audio")
    assert (e.ext, e.audio, e.video, e.mentioned) == ("mp4", True, True, ["clip.mov"])
    e = ffmpeg_exec.expectations_from_request("extract the audio from talk.mp4 as an mp3")
    assert (e.ext, e.audio, e.video) == ("mp3", True, False)
    e = ffmpeg_exec.expectations_from_request("remove the audio from clip.mp4")
    assert (e.audio, e.video) == (False, True)
    assert ffmpeg_exec.expectations_from_request("trim a.mp4 from 0:05 to 0:12").duration == 7
    assert ffmpeg_exec.expectations_from_request("keep the first 4 seconds of a.mp4").duration == 4
    e = ffmpeg_exec.expectations_from_request("resize a.mp4 to 640x360 with h265")
    assert (e.width, e.height, e.vcodec) == (640, 360, "hevc")
    assert ffmpeg_exec.expectations_from_request("scale a.mp4 to 720p").height == 720
    e = ffmpeg_exec.expectations_from_request("make a 3-second gif from a.mp4 at 5 fps")
    assert (e.ext, e.duration, e.fps) == ("gif", 3, 5)
    e = ffmpeg_exec.expectations_from_request("burn subs.srt into movie.mp4")
    assert (e.subtitles, e.video) == (False, True)
    # container names are not codec requests; "silent audio" is audio
    assert ffmpeg_exec.expectations_from_request("convert the flac file song.flac to mp3").acodec is None
    assert ffmpeg_exec.expectations_from_request("add silent audio to clip.mp4").audio is True
    # a task may override the heuristics
    assert ffmpeg_exec.expectations({"checks": {"duration": 2}}, "convert a.mp4").duration == 2


def test_probe_parsers():
    stderr = (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:o.mp4':\n"
        "  Duration: 00:00:05.02, start: 0.000000, bitrate: 566 kb/s\n"
        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), "
        "320x240 [SAR 1:1 DAR 4:3], 434 kb/s, 10 fps, 10 tbr, 10240 tbn (default)\n"
        "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s\n"
    )
    info = ffmpeg_sandbox.parse_ffmpeg_info(stderr)
    assert info.format_name.startswith("mov,mp4") and abs(info.duration - 5.02) < 1e-6
    v, a = info.streams
    assert (v.type, v.codec, v.width, v.height, v.fps) == ("video", "h264", 320, 240, 10.0)
    assert (a.type, a.codec) == ("audio", "aac")
    js = (
        '{"streams": [{"codec_type": "video", "codec_name": "vp9", "width": 160, "height": 120,'
        ' "avg_frame_rate": "25/1"}], "format": {"format_name": "webm", "duration": "3.5"}}'
    )
    info = ffmpeg_sandbox.parse_ffprobe_json(js)
    assert (info.format_name, info.duration, info.streams[0].codec, info.streams[0].fps) == (
        "webm",
        3.5,
        "vp9",
        25.0,
    )


def test_judge_refuses_without_running(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("an unsafe command reached the sandbox")

    monkeypatch.setattr(ffmpeg_sandbox, "run_in_sandbox", boom)
    marker = f"/tmp/kilngit-judge-test-{uuid.uuid4().hex}.mp4"
    for text in HOSTILE[:12] + [f"ffmpeg -i a.mp4 {marker}"]:
        result = ffmpeg_exec.judge({}, "convert a.mp4", text)
        assert result["scores"] == {"correct": 0.0, "runs": 0.0, "safe": 0.0}
        assert result["explanation"].startswith("refused")
    assert not os.path.exists(marker)


def test_judge_without_ffmpeg_reports_an_error(monkeypatch):
    monkeypatch.setattr(ffmpeg_sandbox, "find_ffmpeg", lambda: None)
    result = ffmpeg_exec.judge({}, "convert a.mov to mp4", "ffmpeg -i a.mov a.mp4")
    assert result["scores"] == {"correct": 0.0, "runs": 0.0, "safe": 1.0}
    assert "error" in result["explanation"]


# ---------------------------------------------------------------------- execution

GOOD_RUNS = [
    (
        "convert clip.mov to mp4 and keep the audio",
        "ffmpeg -i clip.mov -c:v libx264 -preset ultrafast -c:a aac clip.mp4",
    ),
    ("convert clip.mov to mp4", "```bash\nffmpeg -i clip.mov -preset ultrafast clip.mp4\n```"),
    ("keep the first 5 seconds of in.mp4", "ffmpeg -ss 0 -i in.mp4 -t 5 -c copy first5.mp4"),
    (
        "trim video.mp4 from 00:00:02 to 00:00:07",
        "ffmpeg -i video.mp4 -ss 00:00:02 -to 00:00:07 -preset ultrafast cut.mp4",
    ),
    ("cut talk.mp4 from 0:20 to 0:25", "ffmpeg -ss 0:20 -to 0:25 -i talk.mp4 -c copy part.mp4"),
    (
        "scale input.mp4 to 640x360",
        "ffmpeg -i input.mp4 -vf scale=640:360 -preset ultrafast -c:a copy big.mp4",
    ),
    ("extract the audio from talk.mp4 as mp3", "ffmpeg -i talk.mp4 -vn -c:a libmp3lame talk.mp3"),
    ("remove the audio from clip.mp4", "ffmpeg -i clip.mp4 -an -c:v copy silent.mp4"),
    ("make a 3 second gif from clip.mp4 at 5 fps", "ffmpeg -t 3 -i clip.mp4 -vf fps=5,scale=160:-1 out.gif"),
    ("join a.ts and b.ts", 'ffmpeg -i "concat:a.ts|b.ts" -c copy joined.ts'),
    (
        "turn img001.png... into a 10 fps video",
        "ffmpeg -framerate 10 -i img%03d.png -pix_fmt yuv420p -preset ultrafast s.mp4",
    ),
    ("remux movie.mkv to mp4 without re-encoding", "ffmpeg -i movie.mkv -c copy movie.mp4"),
]


@needs_ffmpeg
@pytest.mark.parametrize(("request_text", "command"), GOOD_RUNS)
def test_good_commands_score_full_marks(request_text, command):
    result = ffmpeg_exec.judge({"input": request_text}, request_text, command)
    assert result["scores"] == {"correct": 1.0, "runs": 1.0, "safe": 1.0}, result["explanation"]


@needs_ffmpeg
@pytest.mark.skipif(not _has_filter("subtitles"), reason="this ffmpeg build has no subtitles filter (libass)")
def test_burn_subtitles():
    result = ffmpeg_exec.judge(
        {},
        "burn subs.srt into movie.mp4",
        "ffmpeg -i movie.mp4 -vf subtitles=subs.srt -preset ultrafast -c:a copy out.mp4",
    )
    assert result["scores"] == {"correct": 1.0, "runs": 1.0, "safe": 1.0}, result["explanation"]


@needs_ffmpeg
@pytest.mark.parametrize(
    ("request_text", "command", "why"),
    [
        (
            "convert old.avi to mkv with h265",
            "ffmpeg -i old.avi -c:v libx264 -preset ultrafast new.mkv",
            "video codec hevc",
        ),
        ("keep the first 5 seconds of in.mp4", "ffmpeg -i in.mp4 -t 8 -c copy o.mp4", "duration"),
        ("convert clip.mov to webm", "ffmpeg -i clip.mov -preset ultrafast clip.mp4", "output is .webm"),
        ("remove the audio from clip.mp4", "ffmpeg -i clip.mp4 -c copy o.mp4", "no audio stream"),
        (
            "scale input.mp4 to 640x360",
            "ffmpeg -i input.mp4 -vf scale=320:180 -preset ultrafast o.mp4",
            "size 640x360",
        ),
        ("convert clip.mov to mp4", "ffmpeg -i video.mov -preset ultrafast clip.mp4", "uses clip.mov"),
    ],
)
def test_wrong_but_working_commands_run_but_are_not_correct(request_text, command, why):
    result = ffmpeg_exec.judge({}, request_text, command)
    assert result["scores"] == {"correct": 0.0, "runs": 1.0, "safe": 1.0}, result["explanation"]
    assert why in result["explanation"].split("failed:")[1]


@needs_ffmpeg
def test_failing_command_does_not_run():
    result = ffmpeg_exec.judge({}, "convert a.mp4", "ffmpeg -i a.mp4 -c:v no_such_encoder o.mp4")
    assert result["scores"] == {"correct": 0.0, "runs": 0.0, "safe": 1.0}
    assert "ffmpeg said" in result["explanation"]


@needs_ffmpeg
def test_huge_output_is_cut_off_by_the_size_cap():
    start = time.monotonic()
    result = ffmpeg_exec.judge(
        {}, "x", "ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10000 -f rawvideo out.raw"
    )
    assert result["scores"] == {"correct": 0.0, "runs": 0.0, "safe": 1.0}
    assert "killed (size)" in result["explanation"]
    assert time.monotonic() - start < 10


@needs_ffmpeg
def test_endless_encode_hits_the_time_limit(monkeypatch):
    monkeypatch.setattr(ffmpeg_exec, "LIMITS", ffmpeg_sandbox.Limits(timeout=1.5))
    start = time.monotonic()
    result = ffmpeg_exec.judge(
        {}, "x", "ffmpeg -re -f lavfi -i testsrc2=size=320x240:rate=10 -preset ultrafast o.mp4"
    )
    assert result["scores"] == {"correct": 0.0, "runs": 0.0, "safe": 1.0}
    assert "killed (timeout)" in result["explanation"]
    assert time.monotonic() - start < 8


@needs_ffmpeg
def test_sandbox_blocks_writes_and_network_even_when_the_policy_is_bypassed():
    """Defence in depth: run commands the policy would refuse straight in the sandbox."""
    mode = ffmpeg_sandbox.isolation_mode(FFMPEG)
    if mode == "none":
        pytest.skip("no namespace isolation available (unshare)")
    src = ["ffmpeg", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5:duration=1"]
    if mode == "mount":
        outside = f"/tmp/kilngit-escape-{uuid.uuid4().hex}.mp4"
        result = ffmpeg_sandbox.run_in_sandbox(src + ["-y", outside], {}, probe=False)
        assert result.returncode != 0 and not os.path.exists(outside)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    result = ffmpeg_sandbox.run_in_sandbox(src + ["-f", "mpegts", f"tcp://127.0.0.1:{port}"], {}, probe=False)
    server.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing ever reached the listening socket
        server.accept()
    server.close()
    assert result.returncode != 0
