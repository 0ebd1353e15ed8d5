"""Annotations say when and how they were made: `rated_at` from `rate`, `label` and the Kiln import, and
`seconds_on_item` from the labeling queue (on-screen time read from an injected clock, never real time)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kilngit import layout
from kilngit.cli.main import cli
from kilngit.load import load_record
from kilngit.records import Annotation
from kilngit.records.annotation import RATED_AT, parse_stamp, utc_stamp
from kilngit.review.label import LabelQueue, RaterStore
from kilngit.review.rating import RatingChange, parse_overall, rate
from tests.review.conftest import make_run

ME = "me@example.com"


def _data(project, run_id, rater=ME):
    return json.loads((project.root / layout.annotation_file("ffmpeg", rater, run_id)).read_text())


class Clock:
    """A steady clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_stamps_rated_at(project, runs):
    annotation = rate(project, runs[0].id, RatingChange(overall=parse_overall("pass")), ME)
    stamp = _data(project, runs[0].id)["rated_at"]
    assert stamp == annotation.rated_at and RATED_AT.fullmatch(stamp)
    assert "seconds_on_item" not in _data(project, runs[0].id)


def test_rate_cli_stamps_rated_at(project, runs):
    result = CliRunner().invoke(cli, ["-C", str(project.root), "rate", runs[1].id, "--fail", "--as", ME])
    assert result.exit_code == 0, result.output
    assert RATED_AT.fullmatch(_data(project, runs[1].id)["rated_at"])


def test_label_queue_records_time_on_screen(project, runs):
    clock = Clock()
    queue = LabelQueue([r.id for r in runs], RaterStore(project, "ffmpeg", ME), clock=clock)
    queue.shown()
    clock.now += 12.34
    queue.rate(RatingChange(overall=parse_overall("pass")))
    queue.shown()
    clock.now += 0.5
    queue.rate(RatingChange(note="fast"), advance=False)
    clock.now += 1.0
    queue.rate(RatingChange(overall=parse_overall("fail")))
    first, second = _data(project, runs[0].id), _data(project, runs[1].id)
    assert first["seconds_on_item"] == 12.3 and RATED_AT.fullmatch(first["rated_at"])
    assert second["seconds_on_item"] == 1.5  # counted from when the run was shown, across both changes
    queue.rate(RatingChange(overall=parse_overall("pass")))  # never reported shown: no on-screen time
    assert "seconds_on_item" not in _data(project, runs[2].id)


def test_label_cli_writes_seconds_on_item(project, runs):
    result = CliRunner().invoke(cli, ["-C", str(project.root), "label", "--as", ME], input="p\nq\n")
    assert result.exit_code == 0, result.output
    data = _data(project, runs[0].id)
    assert data["seconds_on_item"] >= 0 and RATED_AT.fullmatch(data["rated_at"])


def test_old_annotations_stay_valid(project):
    run = make_run(project, "old style")
    path = project.root / layout.annotation_file("ffmpeg", ME, run.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "kind": "annotation",
                "v": 1,
                "task": "ffmpeg",
                "run": run.id,
                "rater": ME,
                "rating": {"type": "pass_fail", "value": 1.0},
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    record = load_record(path, project.root)
    assert isinstance(record, Annotation) and record.rated_at is None


def test_rated_at_must_be_utc_seconds(project):
    run = make_run(project, "bad stamp")
    for bad in ("2026-12-01 19:30:05", "2026-12-01T19:30:05.5Z", "2026-12-01T19:30:05+01:00"):
        try:
            Annotation(task="ffmpeg", run=run.id, rater=ME, note="x", rated_at=bad)
        except ValueError as e:
            assert "UTC to the second" in str(e)
        else:
            raise AssertionError(bad)


def test_stamps_round_trip():
    assert utc_stamp(parse_stamp("2025-07-23T11:34:57Z")) == "2025-07-23T11:34:57Z"
