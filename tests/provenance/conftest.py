"""Shared fixtures: a private config dir for keys, real frames and photos from the fixture assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from masque import assets
from masque.media.image import read_image
from masque.media.video import VideoReader
from masque.provenance.watermark import WatermarkCodec

PHOTOS = ("obama.jpg", "biden.jpg", "single_face.jpg", "multi_face.jpg", "expression_su.jpg")


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys go to a temporary config dir, never the user's."""
    folder = tmp_path_factory.getbasetemp() / "masque-config"
    monkeypatch.setenv("MASQUE_CONFIG", str(folder))
    return folder


@pytest.fixture(scope="session")
def codec() -> WatermarkCodec:
    return WatermarkCodec()


def clip_frames(name: str, indices: list[int]) -> list[np.ndarray]:
    """RGB frames ``indices`` of fixture clip ``name``."""
    wanted, out = set(indices), []
    for i, frame in enumerate(VideoReader(assets.fetch(name))):
        if i in wanted:
            out.append(frame)
        if i >= max(indices):
            break
    return out


@pytest.fixture(scope="session")
def face_frames() -> list[np.ndarray]:
    """Six real 640x360 talking-face frames from both fixture clips."""
    return clip_frames("clip_long.mp4", [0, 150, 300, 450]) + clip_frames("clip_short.mp4", [10, 60])


@pytest.fixture(scope="session")
def short_clip() -> list[np.ndarray]:
    """The first 36 consecutive frames of the short fixture clip."""
    return clip_frames("clip_short.mp4", list(range(36)))


@pytest.fixture(scope="session")
def photos() -> Iterator[list[np.ndarray]]:
    yield [read_image(assets.fetch(name)) for name in PHOTOS]
