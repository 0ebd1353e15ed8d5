"""Taking the commands out of real answer shapes (pure text work: nothing runs)."""

from __future__ import annotations

import importlib

import pytest

ffmpeg_extract = importlib.import_module("judges.ffmpeg_extract")


def argvs(answer: str) -> list[list[str]]:
    ex = ffmpeg_extract.extract(answer)
    assert ex.problems == [], ex.problems
    return [s.argv for s in ex.steps]


def test_prose_around_one_fenced_block():
    answer = (
        "To shrink the clip, lower the CRF a little. The file won't look worse, I promise:\n\n"
        "```bash\nffmpeg -i clip.mp4 -crf 28 small.mp4\n```\n\nThat's all: it doesn't touch the audio."
    )
    assert argvs(answer) == [["ffmpeg", "-i", "clip.mp4", "-crf", "28", "small.mp4"]]
    assert "won't" in ffmpeg_extract.extract(answer).prose  # apostrophes in prose never reach shlex


@pytest.mark.parametrize("fence", ["```", "```sh", "```shell", "```console", "~~~bash", "```Bash"])
def test_every_kind_of_fence(fence):
    close = fence[:3]
    assert argvs(f"Run:\n{fence}\nffmpeg -i a.mp4 b.mkv\n{close}\n") == [["ffmpeg", "-i", "a.mp4", "b.mkv"]]


def test_several_blocks_run_in_order_and_other_languages_are_prose():
    answer = """First the palette:
```bash
ffmpeg -i in.mp4 -vf palettegen p.png
```
The list file looks like this:
```text
file 'a.mp4'
```
```json
{"ffmpeg": "not a command"}
```
Then the GIF:
```
ffmpeg -i in.mp4 -i p.png -lavfi paletteuse out.gif
```"""
    assert [a[-1] for a in argvs(answer)] == ["p.png", "out.gif"]


def test_prompts_continuations_and_comments():
    answer = """```console
$ ffmpeg -i "my talk.mov" \\
    -c:v libx264 \\
    -crf 20 talk.mp4   # keep it sharp
# then check it
$ ffprobe talk.mp4
```"""
    steps = argvs(answer)
    assert steps == [
        ["ffmpeg", "-i", "my talk.mov", "-c:v", "libx264", "-crf", "20", "talk.mp4"],
        ["ffprobe", "talk.mp4"],
    ]


def test_and_and_semicolon_split_steps_quoted_ones_do_not():
    steps = argvs(
        "ffmpeg -i a.mp4 -vf 'scale=2:2;null' b.mp4 && ffmpeg -i b.mp4 c.mkv; ffmpeg -i c.mkv d.webm"
    )
    assert [s[-1] for s in steps] == ["b.mp4", "c.mkv", "d.webm"]
    assert steps[0][4] == "scale=2:2;null"


def test_lines_that_start_with_ffmpeg_without_a_fence():
    answer = "You can do it in one go.\n\nffmpeg -i a.mp4 \\\n  -an b.mp4\n\nThe -an flag drops the audio."
    assert argvs(answer) == [["ffmpeg", "-i", "a.mp4", "-an", "b.mp4"]]


def test_an_inline_command():
    assert argvs("Use `ffmpeg -i a.mkv -c copy a.mp4` to remux.") == [
        ["ffmpeg", "-i", "a.mkv", "-c", "copy", "a.mp4"]
    ]


def test_harmless_redirections_are_left_out_and_noted():
    ex = ffmpeg_extract.extract("ffmpeg -i a.mp4 b.mp4 2>/dev/null")
    assert ex.steps[0].argv == ["ffmpeg", "-i", "a.mp4", "b.mp4"] and ex.notes


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("ffmpeg -i a.mp4 -f wav - | lame - b.mp3", "a pipe"),
        ("ffmpeg -i a.mp4 b.mp4 &", "background"),
        ("ffmpeg -i a.mp4 b.mp4 || echo failed", "'||'"),
        ("ffmpeg -i $IN b.mp4", "shell expansion"),
        ('ffmpeg -i "$(ls | head -1)" b.mp4', "shell expansion"),
        ("ffmpeg -i `ls` b.mp4", "backticks"),
        ("(cd x && ffmpeg -i a.mp4 b.mp4)", "subshell"),
        ("ffmpeg -i a.mp4 b.mp4 > log.txt", "redirection into a file"),
        ("ffmpeg -i a.mp4 b.mp4 2>> /var/log/ffmpeg.log", "outside the working folder"),
        ("ffmpeg -i 'a.mp4 b.mp4", "unterminated quote"),
        ('```bash\nffmpeg -i a.mp4 "b.mp4\n```', "unterminated quote"),
    ],
)
def test_shell_constructs_are_refused_with_a_reason(answer, problem):
    ex = ffmpeg_extract.extract(answer)
    assert any(problem in p for p in ex.problems), ex.problems


def test_no_command():
    for answer in ("", "I'd rather not help with that.", "```python\nprint('ffmpeg')\n```"):
        assert ffmpeg_extract.extract(answer).problems == [ffmpeg_extract.NO_COMMAND]
