"""The execution judge on real ffmpeg, with each binary there is (Debian's and imageio-ffmpeg's static one).

Answers are written in the shape real model answers have (prose, fenced blocks, several steps); the
requests and answers are our own.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import time
import uuid

import pytest

ffmpeg_exec = importlib.import_module("judges.ffmpeg_exec")
ffmpeg_sandbox = importlib.import_module("judges.ffmpeg_sandbox")
ffmpeg_workspace = importlib.import_module("judges.ffmpeg_workspace")

PASS = {"correct": 1.0, "runs": 1.0, "safe": 1.0}
RUNS_WRONG = {"correct": 0.0, "runs": 1.0, "safe": 1.0}
FAILS = {"correct": 0.0, "runs": 0.0, "safe": 1.0}


def failed(result: dict) -> list[str]:
    """The checks that failed, from the result's details."""
    d = result["details"]
    checks = d.get("checks", []) + [c for o in d.get("outputs", []) for c in o["checks"]]
    return [c["what"] for c in checks if not c["ok"]]


def has_filter(ffmpeg: str, name: str) -> bool:
    out = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


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


@pytest.mark.parametrize(("request_text", "command"), GOOD_RUNS)
def test_good_commands_score_full_marks(ffmpeg_bin, request_text, command):
    result = ffmpeg_exec.judge({"input": request_text}, request_text, command)
    assert result["scores"] == PASS, result["explanation"]


def test_burn_subtitles(ffmpeg_bin):
    if not has_filter(ffmpeg_bin, "subtitles"):
        pytest.skip("this ffmpeg build has no subtitles filter (libass)")
    result = ffmpeg_exec.judge(
        {},
        "burn subs.srt into movie.mp4",
        "ffmpeg -i movie.mp4 -vf subtitles=subs.srt -preset ultrafast -c:a copy out.mp4",
    )
    assert result["scores"] == PASS, result["explanation"]


@pytest.mark.parametrize(
    ("request_text", "command", "why"),
    [
        (
            "convert old.avi to mkv with h265",
            "ffmpeg -i old.avi -c:v libx264 -preset ultrafast new.mkv",
            "video codec",
        ),
        ("keep the first 5 seconds of in.mp4", "ffmpeg -i in.mp4 -t 8 -c copy o.mp4", "duration (s)"),
        ("convert clip.mov to webm", "ffmpeg -i clip.mov -preset ultrafast clip.mp4", "output container"),
        ("remove the audio from clip.mp4", "ffmpeg -i clip.mp4 -c copy o.mp4", "audio stream"),
        (
            "scale input.mp4 to 640x360",
            "ffmpeg -i input.mp4 -vf scale=320:180 -preset ultrafast o.mp4",
            "size",
        ),
        (
            "remux movie.mkv to mp4 without re-encoding",
            "ffmpeg -i movie.mkv -c:v mpeg4 -c:a copy movie.mp4",
            "video stream copied",
        ),
    ],
)
def test_wrong_but_working_commands_run_but_are_not_correct(ffmpeg_bin, request_text, command, why):
    result = ffmpeg_exec.judge({}, request_text, command)
    assert result["scores"] == RUNS_WRONG, result["explanation"]
    assert why in failed(result)


def test_a_placeholder_input_name_is_the_users_file(ffmpeg_bin):
    result = ffmpeg_exec.judge(
        {}, "convert clip.mov to mp4", "ffmpeg -i input.mov -preset ultrafast clip.mp4"
    )
    assert result["scores"] == PASS, result["explanation"]
    assert result["details"]["extraction"]["placeholders"] == {"input.mov": "clip.mov"}
    # a name of another kind of media is not a placeholder for it
    result = ffmpeg_exec.judge({}, "convert clip.mov to mp4", "ffmpeg -i input.wav clip.mp4")
    assert "uses clip.mov" in failed(result)


def test_failing_command_shows_the_exit_code_and_first_error(ffmpeg_bin):
    result = ffmpeg_exec.judge({}, "convert a.mp4", "ffmpeg -i a.mp4 -c:v no_such_encoder o.mp4")
    assert result["scores"] == FAILS
    [command] = result["details"]["commands"]
    assert command["argv"][:3] == ["ffmpeg", "-i", "a.mp4"] and command["exit_code"] != 0
    assert "no_such_encoder" in command["first_error"] and "no_such_encoder" in result["explanation"]
    assert result["details"]["verdict"]["reason"].startswith("does not run")


# ------------------------------------------------------------- real answer shapes

GIF_ANSWER = """For a good-looking GIF, build a palette from the clip first, then map the frames onto it:

```bash
# pass 1: palette
ffmpeg -i input.mp4 -vf "fps=8,scale=240:-1:flags=lanczos,palettegen" palette.png
# pass 2: the GIF itself
ffmpeg -i input.mp4 -i palette.png \\
  -lavfi "fps=8,scale=240:-1:flags=lanczos [x]; [x][1:v] paletteuse" -loop 0 party.gif
```

`-loop 0` makes the GIF repeat forever."""


def test_two_step_palette_gif_with_prose_continuations_and_comments(ffmpeg_bin):
    result = ffmpeg_exec.judge({}, "Turn dance.mov into a looping GIF that is 240 pixels wide", GIF_ANSWER)
    assert result["scores"] == PASS, result["explanation"]
    details = result["details"]
    assert [c["exit_code"] for c in details["commands"]] == [0, 0]
    assert details["extraction"]["placeholders"] == {"input.mp4": "dance.mov"}
    assert [o["file"] for o in details["outputs"]] == ["party.gif"]  # palette.png is an intermediate


def test_two_pass_encode_to_dev_null(ffmpeg_bin):
    answer = """Two passes give the encoder a look at the whole clip first:

```
$ ffmpeg -y -i lecture.mkv -c:v libx264 -preset ultrafast -b:v 300k -pass 1 -an -f null /dev/null
$ ffmpeg -i lecture.mkv -c:v libx264 -preset ultrafast -b:v 300k -pass 2 -c:a aac lecture.mp4
```"""
    result = ffmpeg_exec.judge({}, "Encode lecture.mkv to mp4 in two passes at 300k", answer)
    assert result["scores"]["runs"] == 1.0, result["explanation"]
    assert len(result["details"]["commands"]) == 2


def test_extract_then_mux_in_the_same_folder(ffmpeg_bin):
    answer = """First pull the audio out of the interview, then put it under the b-roll:

```sh
ffmpeg -i interview.mp4 -vn -c:a copy voice.m4a
ffmpeg -i broll.mp4 -i voice.m4a -map 0:v -map 1:a -c copy -shortest final.mp4
```"""
    result = ffmpeg_exec.judge(
        {}, "Put the audio of interview.mp4 over the video of broll.mp4 as final.mp4", answer
    )
    assert result["scores"] == PASS, result["explanation"]


MAP_ANSWER = """Pick the streams with `-map` and copy them:

```bash
ffmpeg -i source.mkv -map 0:{v} -map 0:{a} -c copy picked.mkv
```"""
MAP_REQUEST = "source.mkv has 3 video streams and 5 audio streams. Keep video stream 0:1 and audio stream 0:6 in picked.mkv"


@pytest.mark.parametrize(("v", "a", "scores"), [(1, 6, PASS), ("v:1", "a:3", PASS), (2, 7, RUNS_WRONG)])
def test_stream_selection_is_checked_by_what_ended_up_in_the_output(ffmpeg_bin, v, a, scores):
    result = ffmpeg_exec.judge({}, MAP_REQUEST, MAP_ANSWER.format(v=v, a=a))
    assert result["scores"] == scores, result["explanation"]
    if scores is RUNS_WRONG:
        assert "'video stream 0:1' -> input stream" in failed(result)


def test_hevc_in_avi_exits_0_but_does_not_decode(ffmpeg_bin):
    answer = "```bash\nffmpeg -i trip.mp4 -c:v libx265 -preset ultrafast -c:a copy trip.avi\n```"
    result = ffmpeg_exec.judge({}, "Convert trip.mp4 to AVI with h265", answer)
    assert result["scores"] == RUNS_WRONG, result["explanation"]
    assert "decodes to the end" in failed(result)
    [out] = result["details"]["outputs"]
    assert out["decode_error"] and out["probe"]["streams"][0]["codec"] == "rawvideo"


@pytest.mark.parametrize(
    ("answer", "scores"),
    [
        (
            "There is no `lightning` preset in ffmpeg; the fastest x264 preset is `ultrafast`:\n\n"
            "```bash\nffmpeg -i talk.mov -c:v libx264 -preset ultrafast talk.mp4\n```",
            PASS,
        ),
        (
            "The lightning preset trades quality for speed:\n\n"
            "```bash\nffmpeg -i talk.mov -c:v libvpx-vp9 -deadline realtime -preset lightning talk.webm\n```",
            RUNS_WRONG,
        ),
    ],
)
def test_a_preset_that_does_not_exist_must_be_called_out(ffmpeg_bin, answer, scores):
    result = ffmpeg_exec.judge({}, "Convert talk.mov using the lightning preset", answer)
    assert result["scores"] == scores, result["explanation"]


@pytest.mark.parametrize(("vf", "scores"), [("scale=960:720,setsar=1", PASS), ("scale=960:720", RUNS_WRONG)])
def test_stretching_to_4_3_is_checked_on_the_display_aspect(ffmpeg_bin, vf, scores):
    answer = f"```bash\nffmpeg -i wide.mp4 -vf {vf} -preset ultrafast -c:a copy tall.mp4\n```"
    result = ffmpeg_exec.judge(
        {}, "Stretch wide.mp4 to 720p height and a 4:3 aspect ratio, no black bars", answer
    )
    assert result["scores"] == scores, result["explanation"]


@pytest.mark.parametrize(("setpts", "scores"), [("PTS/2", PASS), ("PTS/3", RUNS_WRONG)])
def test_speed_change_is_checked_on_the_duration(ffmpeg_bin, setpts, scores):
    answer = (
        f'```bash\nffmpeg -i run.mp4 -filter:v "setpts={setpts}" -filter:a "atempo=2.0" '
        "-preset ultrafast fast.mp4\n```"
    )
    result = ffmpeg_exec.judge({}, "Speed up run.mp4 by 2x, audio too", answer)
    assert result["scores"] == scores, result["explanation"]


@pytest.mark.parametrize(("cut", "scores"), [("-ss 2 -t 5", PASS), ("-ss 2 -t 8", RUNS_WRONG)])
def test_trim_is_checked_on_the_duration(ffmpeg_bin, cut, scores):
    answer = f"Seek, then keep five seconds:\n\n```bash\nffmpeg -i match.mp4 {cut} -c:v libx264 -preset ultrafast goal.mp4\n```"
    result = ffmpeg_exec.judge({}, "Cut match.mp4 from 0:02 to 0:07", answer)
    assert result["scores"] == scores, result["explanation"]


def test_drawtext_finds_the_named_font(ffmpeg_bin):
    if not has_filter(ffmpeg_bin, "drawtext"):
        pytest.skip("this ffmpeg build has no drawtext filter")
    answer = '```bash\nffmpeg -i promo.mp4 -vf "drawtext=fontfile=arial.ttf:text=Sale:x=10:y=10" -preset ultrafast out.mp4\n```'
    result = ffmpeg_exec.judge({}, "Write Sale on promo.mp4 with the arial.ttf font", answer)
    assert result["scores"]["runs"] == 1.0, result["explanation"]


def test_details_are_structured_evidence(ffmpeg_bin):
    result = ffmpeg_exec.judge(
        {}, "scale input.mp4 to 640x360", "ffmpeg -i input.mp4 -vf scale=640:360 -preset ultrafast o.mp4"
    )
    d = result["details"]
    assert d["ffmpeg"]["path"] == ffmpeg_bin and d["ffmpeg"]["version"] != "unknown"
    assert d["commands"][0]["exit_code"] == 0 and d["commands"][0]["first_error"] is None
    [out] = d["outputs"]
    assert out["file"] == "o.mp4" and out["decode_error"] is None and "640x360" in out["facts"]
    assert {"what": "size", "wanted": "*640x360".lstrip("*"), "got": "640x360", "ok": True} in out["checks"]
    assert d["verdict"] == {"score": "correct", "pass": True, "reason": d["verdict"]["reason"]}


# ------------------------------------------------------------------------- limits


def test_huge_output_is_cut_off_by_the_size_cap(ffmpeg_bin):
    start = time.monotonic()
    result = ffmpeg_exec.judge(
        {}, "x", "ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10000 -f rawvideo out.raw"
    )
    assert result["scores"] == FAILS
    assert "killed (size)" in result["explanation"]
    assert time.monotonic() - start < 120  # a hang guard: without the cap the encode runs for hours


def test_endless_encode_hits_the_time_limit(ffmpeg_bin, monkeypatch):
    monkeypatch.setattr(ffmpeg_exec, "LIMITS", ffmpeg_sandbox.Limits(timeout=1.5))
    start = time.monotonic()
    result = ffmpeg_exec.judge(
        {}, "x", "ffmpeg -re -f lavfi -i testsrc2=size=320x240:rate=10 -preset ultrafast o.mp4"
    )
    assert result["scores"] == FAILS
    assert "killed (timeout)" in result["explanation"]
    assert time.monotonic() - start < 120  # a hang guard: -re encodes forever unless killed


def test_scratch_folders_live_under_tmpdir_and_are_removed(ffmpeg_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(ffmpeg_exec.ffmpeg_inputs.tempfile, "tempdir", None)
    result = ffmpeg_exec.judge({}, "convert a.mov to mp4", "ffmpeg -i a.mov -preset ultrafast a.mp4")
    assert result["scores"] == PASS, result["explanation"]
    scratch = tmp_path / f"kilngit-ffmpeg-{os.getuid()}"
    assert scratch.is_dir() and list(scratch.iterdir()) == []  # run folders and logs are gone


def test_sandbox_blocks_writes_and_network_even_when_the_policy_is_bypassed(ffmpeg_bin):
    """Defence in depth: run commands the policy would refuse straight in the sandbox."""
    mode = ffmpeg_sandbox.isolation_mode(ffmpeg_bin)
    if mode == "none":
        pytest.skip("no namespace isolation available (unshare)")
    src = ["ffmpeg", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=5:duration=1"]
    if mode == "mount":
        outside = f"/tmp/kilngit-escape-{uuid.uuid4().hex}.mp4"
        step, _files = ffmpeg_workspace.run_in_sandbox(src + ["-y", outside], {})
        assert step.returncode != 0 and not os.path.exists(outside)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    step, _files = ffmpeg_workspace.run_in_sandbox(src + ["-f", "mpegts", f"tcp://127.0.0.1:{port}"], {})
    server.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing ever reached the listening socket
        server.accept()
    server.close()
    assert step.returncode != 0


@pytest.mark.parametrize(("tag", "scores"), [("-tag:v hvc1 ", PASS), ("", RUNS_WRONG)])
def test_hevc_for_apple_players_needs_the_hvc1_tag(ffmpeg_bin, tag, scores):
    answer = f"```bash\nffmpeg -i home.mov -c:v libx265 -preset ultrafast {tag}-c:a aac home.mp4\n```"
    result = ffmpeg_exec.judge({}, "Convert home.mov to h265 in mp4 that plays on an iPhone", answer)
    assert result["scores"] == scores, result["explanation"]


@pytest.mark.parametrize(("quality", "scores"), [("-b:a 192k", PASS), ("-q:a 2", RUNS_WRONG)])
def test_constant_bitrate_mp3_is_checked_on_its_header(ffmpeg_bin, quality, scores):
    answer = f"```bash\nffmpeg -i show.wav -c:a libmp3lame {quality} show.mp3\n```"
    result = ffmpeg_exec.judge({}, "Make show.wav a constant bitrate mp3", answer)
    assert result["scores"] == scores, result["explanation"]


@pytest.mark.parametrize(
    ("request_text", "answer", "runs"),
    [
        (
            "Save every frame of a.mp4 as PNG into the shots folder",
            "ffmpeg -i a.mp4 -r 1 shots/%03d.png",
            1.0,
        ),
        ("Save one frame per second of a.mp4 as PNG", "ffmpeg -i a.mp4 -r 1 shots/%03d.png", 0.0),
        (
            "Save one frame per second of a.mp4 as PNG",
            "mkdir -p shots && ffmpeg -i a.mp4 -r 1 shots/%03d.png",
            1.0,
        ),
    ],
)
def test_output_folders_exist_only_when_named_or_made(ffmpeg_bin, request_text, answer, runs):
    result = ffmpeg_exec.judge({}, request_text, answer)
    assert result["scores"]["runs"] == runs, result["explanation"]
