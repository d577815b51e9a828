"""Two small real face sets (A: clip_long, B: clip_short), extracted once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from masque.faceset.extract import ExtractConfig, extract_faceset


@pytest.fixture(scope="session")
def facesets(tmp_path_factory, fixture_path) -> tuple[Path, Path]:
    """``(A, B)``: 30 faces of the woman in clip_long, 24 of the man in clip_short."""
    root = tmp_path_factory.mktemp("facesets")
    a, b = root / "a", root / "b"
    for clip, out, every in (("clip_long.mp4", a, 16), ("clip_short.mp4", b, 3)):
        summary = extract_faceset([fixture_path(clip)], out, ExtractConfig(every=every, workers=1))
        assert summary.faces >= 20 and not summary.errors
    return a, b
