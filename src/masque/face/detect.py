"""Face detectors, behind a registry. Each returns boxes in the pixels of the image it was given.

Detectors run on a downscaled copy of the frame (``max_side``) for speed; the landmark predictor
then refines each face at full resolution, so precision is not lost.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import dlib
import numpy as np

from masque import assets
from masque.atomic import atomic_path
from masque.registry import Registry


@dataclass(frozen=True)
class Detection:
    """A detector box ``(x0, y0, x1, y1)`` in source pixels and its confidence."""

    bbox: tuple[float, float, float, float]
    score: float


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Detection]:
        """Find faces in an RGB ``(H, W, 3)`` ``uint8`` image; boxes in its pixels."""
        ...


DETECTORS: Registry[Detector] = Registry("detector")


@DETECTORS.register("hog")
class HogDetector:
    """dlib's HOG + linear SVM frontal face detector.

    Args:
        upsample: times dlib upsamples the (downscaled) image; each finds faces half as big.
        max_side: the longer side of the image the detector sees; smaller is faster. HOG finds
            faces of about 80 px and larger at that scale.
        threshold: SVM margin a box must exceed; raise it to trade recall for precision.
    """

    def __init__(self, upsample: int = 0, max_side: int = 1280, threshold: float = 0.0) -> None:
        self._detector = frontal_face_detector()
        self.upsample = upsample
        self.max_side = max_side
        self.threshold = threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        scale = min(1.0, self.max_side / max(gray.shape[:2]))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(gray, self.upsample, self.threshold)
        out = []
        for r, s in zip(rects, scores):
            box = (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale)
            out.append(Detection(box, float(s)))
        return out


def frontal_face_detector(cache: Path | None = None) -> dlib.fhog_object_detector:
    """dlib's frontal face detector, read from a cached copy in its own file format.

    ``dlib.get_frontal_face_detector()`` rebuilds it from a string compiled into dlib, which
    takes 0.2 s; reading the same detector back from a file takes 1 ms, and every extract worker
    pool, convert and swap starts with one. The copy is written atomically on first use, under
    ``assets.cache_dir() / "converted"`` by default, and rebuilt if it cannot be read.
    """
    path = cache or assets.cache_dir() / "converted" / f"frontal_face_detector-dlib{dlib.__version__}.svm"
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError:  # damaged: rebuild below
            pass
    detector = dlib.get_frontal_face_detector()
    with contextlib.suppress(OSError, RuntimeError):  # a cache that cannot be written only costs the rebuild
        _save(detector, path)
    return detector


def _save(detector: dlib.fhog_object_detector, path: Path) -> None:
    with atomic_path(path) as tmp:
        detector.save(str(tmp))


@DETECTORS.register("cnn")
class CnnDetector:
    """dlib's MMOD CNN face detector: finds faces HOG misses (sunglasses, profiles), but takes
    seconds a frame on a CPU without BLAS. Use it for photos, not video."""

    def __init__(self, upsample: int = 0, max_side: int = 1024, threshold: float = 0.0) -> None:
        self._detector = dlib.cnn_face_detection_model_v1(str(assets.fetch("mmod_face_detector")))
        self.upsample = upsample
        self.max_side = max_side
        self.threshold = threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        scale = min(1.0, self.max_side / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        out = []
        for d in self._detector(np.ascontiguousarray(small), self.upsample):
            if d.confidence < self.threshold:
                continue
            r = d.rect
            box = (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale)
            out.append(Detection(box, float(d.confidence)))
        return out
