"""The labeling queue: the pure queue with undo, and `kilngit label` driven by piped keystrokes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kilngit import layout
from kilngit.cli.main import cli
from kilngit.project import Project
from kilngit.review.label import LabelQueue, RaterStore, queue_runs
from kilngit.review.rating import RatingChange, parse_overall, rate
from tests.review.conftest import make_run

ME = "me@example.com"


def _annotation(project: Project, run_id: str, rater: str = ME) -> dict | None:
    path = project.root / layout.annotation_file("ffmpeg", rater, run_id)
    return json.loads(path.read_text()) if path.exists() else None


def test_queue_rate_skip_undo(project, runs):
    queue = LabelQueue([r.id for r in runs], RaterStore(project, "ffmpeg", ME))
    assert queue.current == runs[0].id
    queue.rate(RatingChange(overall=parse_overall("pass")))
    assert _annotation(project, runs[0].id)["rating"]["value"] == 1.0
    assert queue.current == runs[1].id
    queue.rate(RatingChange(note="check -y"), advance=False)  # stays on the run
    assert queue.current == runs[1].id and _annotation(project, runs[1].id)["note"] == "check -y"
    queue.skip()
    queue.rate(RatingChange(overall=parse_overall("2")))
    assert queue.finished and queue.current is None and queue.rated == 3 and queue.skipped == 1
    assert queue.undo().run_id == runs[2].id
    assert _annotation(project, runs[2].id) is None and queue.current == runs[2].id
    assert queue.undo().saved is False and queue.current == runs[1].id  # the skip
    step = queue.undo()  # the note
    assert (
        step.run_id == runs[1].id and _annotation(project, runs[1].id) is None and queue.current == runs[1].id
    )
    queue.undo()
    assert _annotation(project, runs[0].id) is None and queue.position == 0
    assert queue.undo() is None


def test_undo_restores_a_previous_annotation(project, runs):
    rate(project, runs[0].id, RatingChange(overall=parse_overall("fail"), tags_add=("x",)), ME)
    queue = LabelQueue([runs[0].id], RaterStore(project, "ffmpeg", ME))
    queue.rate(RatingChange(overall=parse_overall("pass")))
    assert _annotation(project, runs[0].id)["rating"]["value"] == 1.0
    queue.undo()
    data = _annotation(project, runs[0].id)
    assert data["rating"]["value"] == 0.0 and data["tags_added"] == ["x"]


def test_queue_runs_default_filter_and_disputed(project, runs):
    waiting = make_run(project, "no output yet", output=None)
    tagged = make_run(project, "tagged", tags=["hard"])
    rate(project, runs[0].id, RatingChange(overall=parse_overall("pass")), ME)
    rate(project, runs[1].id, RatingChange(note="only a note"), ME)  # a note is not a rating
    rate(project, runs[2].id, RatingChange(overall=parse_overall("pass")), "other@example.com")
    ids = queue_runs(project, "ffmpeg", ME)
    assert runs[0].id not in ids and waiting.id not in ids
    assert set(ids) == {runs[1].id, runs[2].id, tagged.id} and ids == sorted(ids)
    assert queue_runs(project, "ffmpeg", ME, "tag::hard") == [tagged.id]
    assert queue_runs(project, "ffmpeg", ME, disputed=True) == []
    rate(project, runs[0].id, RatingChange(overall=parse_overall("fail")), "other@example.com")
    assert queue_runs(Project(project.root), "ffmpeg", ME, disputed=True) == [runs[0].id]


def _label(project: Project, keys: str, *args: str):
    result = CliRunner().invoke(cli, ["-C", str(project.root), "label", "--as", ME, *args], input=keys)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_label_command_with_piped_keys(project, runs):
    result = _label(project, "p\n?\nf\nu\nc\nq\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 unrated run(s) to label as me@example.com" in out
    assert "convert clip0.mov to mp4" in out and "ffmpeg -i in.mov out.mp4" in out
    assert "undo the last change" in out  # the help
    assert "undone" in out
    assert "2 run(s) labeled, 0 skipped, 1 left" in out
    assert _annotation(project, runs[0].id)["rating"] == {"type": "pass_fail", "value": 1.0}
    assert _annotation(project, runs[1].id)["rating"] == {"type": "pass_fail_critical", "value": -1.0}
    assert _annotation(project, runs[2].id) is None
    # the next session starts where this one left off
    result = _label(project, "4\n")
    assert "1 unrated run(s)" in result.output and "queue finished" in result.output
    assert _annotation(project, runs[2].id)["rating"] == {"type": "five_star", "value": 4.0}


def test_label_requirements_note_tags_skip_and_eof(project, runs):
    keys = "r\np\nc\nn\nflag -y overwrites\nt\ngolden hard\ns\nr\nq\nt\n\nx\n"
    result = _label(project, keys)
    assert result.exit_code == 0, result.output
    data = _annotation(project, runs[0].id)
    assert data["requirements"] == {
        "correct_command": {"type": "pass_fail", "value": 1.0},
        "no_destructive_actions": {"type": "pass_fail_critical", "value": -1.0},
    }
    assert data["note"] == "flag -y overwrites" and data["tags_added"] == ["golden", "hard"]
    assert "rating" not in data
    assert "requirements cancelled" in result.output and "no change" in result.output
    assert "unknown key 'x'" in result.output
    assert "0 skipped" not in result.output and _annotation(project, runs[1].id) is None
    assert "1 run(s) labeled, 1 skipped" in result.output  # ended by end of input


def test_label_empty_tag_input_changes_nothing(project, runs):
    result = _label(project, "t\n-\np\nq\n")
    assert "no change" in result.output
    assert _annotation(project, runs[0].id)["rating"]["value"] == 1.0


def test_label_pages_long_outputs_and_keeps_code_blocks(project):
    long = "Here is the command:\n```bash\nffmpeg -i in.mov out.mp4\n```\n" + "\n".join(
        f"step {i}: explanation" for i in range(80)
    )
    run = make_run(project, "explain", output=long)
    result = _label(project, "m\nm\nf\n")
    out = result.output
    assert "ffmpeg -i in.mov out.mp4" in out and "```" not in out  # rendered as a code block
    assert "(m: more)" in out and "step 42" in out and "step 79" not in out
    assert _annotation(project, run.id)["rating"]["value"] == 0.0


def test_label_json_output_pretty_printed(project):
    make_run(project, "structured", output='{"command": "ffmpeg -i a b", "flags": ["-y"]}')
    out = _label(project, "q\n").output
    assert '"command": "ffmpeg -i a b",' in out


def test_label_nothing_to_do_and_disputed_mode(project, runs):
    for r in runs:
        rate(project, r.id, RatingChange(overall=parse_overall("pass")), ME)
    assert "no unrated runs" in _label(project, "").output
    rate(project, runs[1].id, RatingChange(overall=parse_overall("fail")), "bob@example.com")
    result = _label(project, "f\n", "--disputed")
    assert "1 disputed run(s)" in result.output and "others (disputed): bob@example.com" in result.output
    assert _annotation(project, runs[1].id)["rating"]["value"] == 0.0


def test_label_shows_brackets_verbatim(project):
    run = make_run(project, "[bold]not markup[/bold]", output="echo [/oops] [red]x")
    result = _label(project, "n\nsee [/b] and [red]\nq\n")
    assert result.exit_code == 0, result.output
    assert "[bold]not markup[/bold]" in result.output and "echo [/oops] [red]x" in result.output
    assert "saved: note 'see [/b] and [red]'" in result.output
    assert _annotation(project, run.id)["note"] == "see [/b] and [red]"
