"""Frame-aligned reading of a swapped output and its original (faces are followed by
:class:`masque.face.FaceTracker`)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.media import VideoReader, is_image_path, is_video_path, probe_video, read_image

_END = object()


def frame_count(path: str | os.PathLike[str]) -> int | None:
    """1 for an image, the container's frame count for a video (None when it does not say)."""
    p = Path(path)
    if is_image_path(p):
        return 1
    return probe_video(p).frames or None


def _frames(path: Path) -> Iterator[np.ndarray]:
    if is_image_path(path):
        yield read_image(path)
    else:
        yield from VideoReader(path)


def check_pair(swapped: str | os.PathLike[str], original: str | os.PathLike[str]) -> int | None:
    """Check, without decoding, that two inputs can be compared; returns the frame count if known.

    Raises:
        InputNotFoundError: a path does not exist.
        InvalidMediaError: a path is neither image nor video, one is an image and the other a
            video, or the containers give different frame counts.
    """
    sw, og = Path(swapped), Path(original)
    for p in (sw, og):
        if not p.is_file():
            raise InputNotFoundError(f"not found: {p}")
        if not (is_image_path(p) or is_video_path(p)):
            raise InvalidMediaError(f"{p} is neither an image nor a video masque reads")
    if is_image_path(sw) != is_image_path(og):
        raise InvalidMediaError(f"cannot compare {sw} with {og}: give two images or two videos")
    n_sw, n_og = frame_count(sw), frame_count(og)
    if n_sw and n_og and n_sw != n_og:
        raise InvalidMediaError(_count_message(sw, n_sw, og, n_og))
    return n_sw or n_og


def paired_frames(swapped: str | os.PathLike[str],
                  original: str | os.PathLike[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(index, swapped_rgb, original_rgb)``, frame by frame, RGB ``uint8`` ``(H, W, 3)``.

    Raises:
        InputNotFoundError, InvalidMediaError: as :func:`check_pair`, and when the frame counts
            turn out to differ while decoding, or the frame sizes differ.
    """
    check_pair(swapped, original)
    sw, og = Path(swapped), Path(original)
    pairs = itertools.zip_longest(_frames(sw), _frames(og), fillvalue=_END)
    for i, (a, b) in enumerate(pairs):
        if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):  # one of them ended (_END)
            longer = i + 1 + sum(1 for _ in pairs)  # decode the rest only to say how long it is
            raise InvalidMediaError(_count_message(sw, i if a is _END else longer, og, i if b is _END else longer))
        if a.shape != b.shape:
            raise InvalidMediaError(f"frame {i}: {sw} is {a.shape[1]}x{a.shape[0]} but {og} is "
                                    f"{b.shape[1]}x{b.shape[0]}; compare outputs of the same size")
        yield i, a, b


def _count_message(sw: Path, n_sw: int, og: Path, n_og: int) -> str:
    return (f"{sw} has {n_sw} frames but {og} has {n_og}; evaluate compares frame by frame, so give the "
            "output together with the exact input it was made from")
