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
def fixture_path() -> "type[_Fetch]":
    return _Fetch


class _Fetch:
    def __new__(cls, name: str) -> Path:  # type: ignore[misc]
        return assets.fetch(name)


@pytest.fixture(scope="session")
def photo() -> "type[_Photo]":
    return _Photo


class _Photo:
    def __new__(cls, name: str) -> np.ndarray:  # type: ignore[misc]
        return read_image(assets.fetch(name))
