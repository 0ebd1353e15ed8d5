"""Fixtures for the example project's execution judge: its modules importable as the kilngit runner imports
them (project root first on sys.path), and each ffmpeg binary there is (Debian's and imageio-ffmpeg's static
one); tests that run ffmpeg are run with each and skip a binary that is missing."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"
if str(EXAMPLE_PROJECT) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_PROJECT))

ffmpeg_sandbox = importlib.import_module("judges.ffmpeg_sandbox")


def _imageio_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or no binary for this platform
        return None


BINARIES = {"system": shutil.which("ffmpeg"), "imageio": _imageio_ffmpeg()}


@pytest.fixture(params=sorted(BINARIES))
def ffmpeg_bin(request, monkeypatch) -> str:
    """Each ffmpeg binary in turn, configured the way a user would (KILNGIT_FFMPEG)."""
    path = BINARIES[request.param]
    if not path:
        pytest.skip(f"no {request.param} ffmpeg here")
    monkeypatch.setenv("KILNGIT_FFMPEG", path)
    monkeypatch.delitem(ffmpeg_sandbox._cache, "ffmpeg", raising=False)
    yield path
    ffmpeg_sandbox._cache.pop("ffmpeg", None)
