"""Labelled outputs get the usual file mode (0o666 less the umask), not a temporary file's 0o600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from masque.media.image import write_image
from masque.media.video import VideoWriter
from masque.provenance import LabelConfig, Labeler, verify_file


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_labelled_image_is_0644_under_umask_022(umask_022: None, tmp_path: Path, photos: list[np.ndarray],
                                                suffix: str) -> None:
    labeler = Labeler(LabelConfig())
    out = tmp_path / f"swap{suffix}"
    write_image(out, labeler.mark(photos[2]))
    labeler.finalize(out)
    assert verify_file(out).manifest.status == "valid"  # the signed copy is what got the mode
    assert oct(_mode(out)) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_labelled_video_is_0644_under_umask_022(umask_022: None, tmp_path: Path,
                                                short_clip: list[np.ndarray]) -> None:
    labeler = Labeler(LabelConfig())
    out = tmp_path / "swap.mp4"
    with VideoWriter(out, 30) as w:
        for frame in short_clip[:8]:
            w.write(labeler.mark(frame))
    assert oct(_mode(out)) == oct(0o644)  # the encoder's file, before signing
    labeler.finalize(out)
    assert verify_file(out).manifest.status == "valid"
    assert oct(_mode(out)) == oct(0o644)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_umask_077_is_honoured(tmp_path: Path, photos: list[np.ndarray]) -> None:
    """The mode follows the umask rather than being fixed at 0o644."""
    old = os.umask(0o077)
    try:
        labeler = Labeler(LabelConfig())
        out = tmp_path / "private.png"
        write_image(out, labeler.mark(photos[2]))
        labeler.finalize(out)
    finally:
        os.umask(old)
    assert oct(_mode(out)) == oct(0o600)
