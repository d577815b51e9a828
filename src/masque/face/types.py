"""The :class:`Face` record shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Face:
    """One face found in one image.

    Attributes:
        bbox: ``(x0, y0, x1, y1)`` detector box in source-image pixels (float).
        landmarks: ``(68, 2)`` ``float32`` iBUG 68-point landmarks ``(x, y)`` in source pixels.
        score: detector confidence (HOG: SVM margin; higher is surer).
        embedding: ``(128,)`` ``float32`` identity embedding (dlib ResNet), or ``None`` if not computed.
        pose: ``(yaw, pitch, roll)`` in degrees, or ``None`` if not computed.
    """

    bbox: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float = 0.0
    embedding: np.ndarray | None = field(default=None, compare=False)
    pose: tuple[float, float, float] | None = None

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def area(self) -> float:
        return max(0.0, self.bbox[2] - self.bbox[0]) * max(0.0, self.bbox[3] - self.bbox[1])

    @property
    def eye_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres of the image-left eye (points 36-41) and image-right eye (42-47), ``(2,)`` each."""
        return self.landmarks[36:42].mean(axis=0), self.landmarks[42:48].mean(axis=0)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two 128-d embeddings; below 0.6 means the same person (dlib)."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


SAME_PERSON_THRESHOLD = 0.6
