"""Shared fixtures: real faces from the pinned fixture packages, and one analyzer per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from masque import assets
from masque.face import FaceAnalyzer
from masque.media import read_image


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="session")
def fixture_path() -> type[_Fetch]:
    return _Fetch


class _Fetch:
    def __new__(cls, name: str) -> Path:  # type: ignore[misc]
        return assets.fetch(name)


@pytest.fixture(scope="session")
def photo() -> type[_Photo]:
    return _Photo


class _Photo:
    def __new__(cls, name: str) -> np.ndarray:  # type: ignore[misc]
        return read_image(assets.fetch(name))


@pytest.fixture(scope="session")
def short_run(tmp_path_factory) -> Path:
    """The first 20 consecutive frames of the 72-frame clip, as an H.264 file without audio."""
    from masque.media import VideoReader, VideoWriter

    path = tmp_path_factory.mktemp("clips") / "run20.mp4"
    with VideoWriter(path, 30, crf=12) as w:
        for _, frame in zip(range(20), VideoReader(assets.fetch("clip_short.mp4"))):
            w.write(frame)
    return path
