"""Aligned faces out of images, videos, folders and face sets: what the detector trains on and scores.

Every crop is aligned onto the mean-face template (:func:`masque.face.align_face`, ``face``
centering, zoomed out by :data:`COVERAGE`) at the detector's input size, so training and scoring see faces framed alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.face import FaceAnalyzer, align_face
from masque.face.align import template_points as _template
from masque.face.align import umeyama, warp_crop
from masque.media import VideoReader, is_image_path, is_video_path, read_image

ProgressCallback = Callable[[int, int | None], None]

#: the crop shows 1.3x the ``face`` template: the jaw and the blend boundary around it, with context
COVERAGE = 1.3


@dataclass(frozen=True)
class FaceCrop:
    """One aligned face.

    Attributes:
        image: ``(S, S, 3)`` ``uint8`` RGB crop.
        landmarks: ``(68, 2)`` ``float32`` landmarks in crop pixels.
        matrix: ``(2, 3)`` source-to-crop matrix (for heat maps drawn back on the frame).
        source: file it came from.
        frame: frame index (0 for an image).
        index: face index within the frame, largest first.
        bbox: detector box in source pixels.
    """

    image: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray
    source: str
    frame: int
    index: int
    bbox: tuple[float, float, float, float]


def media_files(paths: list[Path]) -> list[Path]:
    """The image and video files among ``paths``, folders expanded (sorted, not recursive).

    Raises:
        InputNotFoundError: a path does not exist, or a folder holds no image or video.
    """
    out: list[Path] = []
    for p in paths:
        if not p.exists():
            raise InputNotFoundError(f"input not found: {p}; check the path")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and (is_image_path(f) or is_video_path(f)))
            if not found:
                raise InputNotFoundError(f"folder {p} holds no image or video file; give a folder of them")
            out += found
        else:
            out.append(p)
    return out


def is_faceset(path: Path) -> bool:
    """True for a masque face set folder."""
    from masque.faceset.store import DB_NAME

    return path.is_dir() and (path / DB_NAME).is_file()


def crops_in_image(analyzer: FaceAnalyzer, image: np.ndarray, size: int, source: str = "",
                   frame: int = 0) -> list[FaceCrop]:
    """Every face of an RGB ``uint8`` image, aligned to ``size`` x ``size``."""
    out = []
    for i, face in enumerate(analyzer.detect(image)):
        a = align_face(image, face.landmarks, size, "face", COVERAGE)
        out.append(FaceCrop(a.image, a.landmarks, a.matrix, source, frame, i, face.bbox))
    return out


def iter_frames(path: Path, every: int = 1, limit: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, RGB frame)`` of an image (index 0) or of every ``every``-th video frame.

    Raises:
        InvalidMediaError: neither an image nor a video masque reads, or not decodable.
    """
    if is_image_path(path):
        yield 0, read_image(path)
        return
    if not is_video_path(path):
        raise InvalidMediaError(f"{path} is neither an image nor a video masque reads (by its extension); "
                                "give .jpg/.png images or .mp4/.mov/.mkv videos")
    taken = 0
    for i, frame in enumerate(VideoReader(path)):
        if i % every == 0:
            yield i, frame
            taken += 1
            if limit is not None and taken >= limit:
                return


def faceset_crops(root: Path, size: int, limit: int | None = None) -> list[FaceCrop]:
    """The faces of a face set, re-aligned from its crops onto this template and size."""
    from masque.faceset.store import FaceSet

    out = []
    dst = _template(size, "face", COVERAGE)
    with FaceSet(root) as fs:
        for rec in fs.faces():
            img = read_image(fs.image_path(rec))
            lm = rec.aligned_landmarks
            mat = umeyama(lm[17:], dst)
            crop = warp_crop(img, mat, size)
            crop_lm = (lm.astype(np.float64) @ mat[:, :2].T + mat[:, 2]).astype(np.float32)
            out.append(FaceCrop(crop, crop_lm, mat, str(root), rec.frame, rec.face_index, rec.bbox))
            if limit is not None and len(out) >= limit:
                break
    return out


def collect_crops(paths: list[Path], size: int, every: int = 1, analyzer: FaceAnalyzer | None = None,
                  on_progress: ProgressCallback | None = None) -> list[FaceCrop]:
    """Aligned faces from images, videos, folders of them, and face sets (training input).

    Raises:
        InputNotFoundError: a path does not exist.
        InvalidMediaError: a file cannot be read.
    """
    crops: list[FaceCrop] = []
    files: list[Path] = []
    for p in paths:
        if is_faceset(p):
            crops += faceset_crops(p, size)
        else:
            files += media_files([p])
    analyzer = analyzer or FaceAnalyzer()
    for n, f in enumerate(files):
        for i, frame in iter_frames(f, every):
            crops += crops_in_image(analyzer, frame, size, str(f), i)
        if on_progress:
            on_progress(n + 1, len(files))
    return crops


def describe(path: str | os.PathLike[str]) -> str:
    """A short name for a training source in the model card."""
    return Path(path).name
