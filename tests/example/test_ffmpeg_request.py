"""What the execution judge reads from a request: expectations, the input's streams, names ffmpeg lacks."""

from __future__ import annotations

import importlib

import pytest

ffmpeg_request = importlib.import_module("judges.ffmpeg_request")
ffmpeg_streams = importlib.import_module("judges.ffmpeg_streams")
ffmpeg_names = importlib.import_module("judges.ffmpeg_names")
from_request = ffmpeg_request.expectations_from_request


def test_request_heuristics():
    e = from_request("convert clip.mov to mp4 and keep the audio")
    assert (e.ext, e.audio, e.video, e.mentioned) == ("mp4", True, True, ["clip.mov"])
    e = from_request("extract the audio from talk.mp4 as an mp3")
    assert (e.ext, e.audio, e.video) == ("mp3", True, False)
    e = from_request("remove the audio from clip.mp4")
    assert (e.audio, e.video) == (False, True)
    assert from_request("trim a.mp4 from 0:05 to 0:12").duration == 7
    assert from_request("keep the first 4 seconds of a.mp4").duration == 4
    e = from_request("resize a.mp4 to 640x360 with h265")
    assert (e.width, e.height, e.vcodec) == (640, 360, "hevc")
    assert from_request("scale a.mp4 to 720p").height == 720
    e = from_request("make a 3-second gif from a.mp4 at 5 fps")
    assert (e.ext, e.duration, e.fps) == ("gif", 3, 5)
    e = from_request("burn subs.srt into movie.mp4")
    assert (e.subtitles, e.video) == (False, True)
    # container names are not codec requests; "silent audio" is audio
    assert from_request("convert the flac file song.flac to mp3").acodec is None
    assert from_request("add silent audio to clip.mp4").audio is True
    # a task may override the heuristics
    assert ffmpeg_request.expectations({"checks": {"duration": 2}}, "convert a.mp4").duration == 2


def test_aspect_speed_bitrate_cuts_and_source_size():
    assert from_request("stretch it to a 4:3 aspect ratio").dar == "4:3"
    assert from_request("speed up dance.mp4 by 3x").speed == 3
    assert from_request("make it 2 times slower").speed == 0.5
    e = from_request("convert song.wav to mp3 at 192kbps")
    assert (e.bitrate, e.bitrate_of) == (192_000, "audio")
    assert from_request("save talk.mkv as an mp3 with the maximum bitrate").bitrate == 320_000
    assert from_request("skip two seconds around 0:40 in game.mp4").cuts_around == 40
    assert from_request("shrink my 4K video to 720p").source_height == 2160
    # times inside a filter the user quotes are not positions in the video
    assert from_request("use -vf 'overlay=10:10' on a.mp4").latest_time == 0


@pytest.mark.parametrize(
    ("request_text", "layout", "selections"),
    [
        (
            "in.mkv has 2 video streams and 3 audio streams; keep video stream 0:1 and audio stream 0:4",
            ["video"] * 2 + ["audio"] * 3,
            [[1], [4]],
        ),
        (
            "keep the main video track and the third audio track of film.mkv",
            ["video"] + ["audio"] * 3,
            [[0], [3]],
        ),
        (
            "take the video from stream 1 and the audio from stream 5 of x.mp4",
            ["video"] * 2 + ["audio"] * 4,
            [[1], [5]],
        ),
        ("keep the second audio stream (0:1) of talk.mkv", ["video", "audio", "audio"], [[2, 1]]),
        ("a.mkv has 2 video streams; keep video stream 5", ["video"] * 2, [[]]),
        ("convert a.mkv to mp4", [], []),
    ],
)
def test_stream_layout_and_selections(request_text, layout, selections):
    plan = ffmpeg_streams.plan_streams(request_text)
    assert plan.layout == layout
    assert [s.indices for s in plan.selections] == selections


def test_each_input_stream_is_recognisable():
    plan = ffmpeg_streams.plan_streams("x.mkv has 3 video streams and 9 audio streams")
    sizes = {tuple(ffmpeg_streams.stream_identity("video", k).values()) for k in range(3)}
    rates = {ffmpeg_streams.stream_identity("audio", k)["sample_rate"] for k in range(9)}
    assert len(sizes) == 3 and len(rates) == 9
    probe_module = importlib.import_module("judges.ffmpeg_probe")
    stream = probe_module.StreamInfo("audio", "aac", sample_rate=ffmpeg_streams.SAMPLE_RATES[4], channels=2)
    assert ffmpeg_streams.identify(plan, stream) == 3 + 4


def test_names_the_request_uses():
    names = ffmpeg_names.asked_names(
        "Convert a.mov with the ultra_fast preset, the vp9 codec and the lanczos filter"
    )
    assert [(n.kind, n.name) for n in names] == [
        ("preset", "ultra_fast"),
        ("codec", "vp9"),
        ("filter", "lanczos"),
    ]
    assert not ffmpeg_names.exists(names[0], "ffmpeg")
    assert ffmpeg_names.exists(ffmpeg_names.Name("preset", "veryslow"), "ffmpeg")
    preset = ffmpeg_names.Name("preset", "turbo")
    assert ffmpeg_names.says_missing("Note: there is no turbo preset in ffmpeg. Use ultrafast.", preset)
    assert not ffmpeg_names.says_missing("The turbo preset makes encoding fast.", preset)


def test_probe_parsers():
    probe = importlib.import_module("judges.ffmpeg_probe")
    stderr = (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:o.mp4':\n"
        "  Duration: 00:00:05.02, start: 0.000000, bitrate: 566 kb/s\n"
        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), "
        "320x240 [SAR 1:1 DAR 4:3], 434 kb/s, 10 fps, 10 tbr, 10240 tbn (default)\n"
        "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 128 kb/s\n"
    )
    info = probe.parse_ffmpeg_info(stderr)
    assert (
        info.format_name.startswith("mov,mp4")
        and abs(info.duration - 5.02) < 1e-6
        and info.bit_rate == 566_000
    )
    v, a = info.streams
    assert (v.type, v.codec, v.codec_tag, v.width, v.height, v.sar, v.dar, v.fps) == (
        "video",
        "h264",
        "avc1",
        320,
        240,
        "1:1",
        "4:3",
        10.0,
    )
    assert (a.type, a.codec, a.sample_rate, a.channels, a.bit_rate) == ("audio", "aac", 44100, 2, 128_000)
    js = (
        '{"streams": [{"codec_type": "video", "codec_name": "vp9", "width": 160, "height": 120,'
        ' "avg_frame_rate": "25/1", "sample_aspect_ratio": "1:1", "display_aspect_ratio": "4:3"}],'
        ' "format": {"format_name": "webm", "duration": "3.5", "bit_rate": "1000"}}'
    )
    info = probe.parse_ffprobe_json(js)
    assert (info.format_name, info.duration, info.bit_rate) == ("webm", 3.5, 1000)
    assert (info.streams[0].codec, info.streams[0].fps, info.streams[0].dar) == ("vp9", 25.0, "4:3")
    crc = "#tb 0: 1/10\n#tb 1: 1/100\n0, 0, 0, 1, 10, 0x1\n0, 1, 1, 1, 10, 0x1\n1, 0, 0, 50, 10, 0x2\n"
    assert probe.framecrc_durations(crc) == {0: 0.2, 1: 0.5}
