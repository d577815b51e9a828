"""68-point landmarks (iBUG convention) with dlib's shape predictor."""

from __future__ import annotations

import dlib
import numpy as np

from masque import assets

#: index ranges of the iBUG 68-point scheme
JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
LEFT_EYE = slice(36, 42)   # image-left (the subject's right eye)
RIGHT_EYE = slice(42, 48)  # image-right
MOUTH = slice(48, 68)
INNER_MOUTH = slice(60, 68)


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance in pixels between the centres of the eyes (points 36-41 and 42-47)."""
    lm = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(lm[LEFT_EYE].mean(0) - lm[RIGHT_EYE].mean(0)))


class LandmarkPredictor:
    """dlib's 68-point ensemble-of-regression-trees predictor (iBUG 300-W)."""

    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(str(assets.fetch("shape_predictor_68")))

    def predict(self, image: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Landmarks of the face in ``bbox`` (x0, y0, x1, y1) of a ``uint8`` grey or RGB image.

        Returns:
            ``(68, 2)`` ``float32`` ``(x, y)`` in the image's pixels.
        """
        x0, y0, x1, y1 = (int(round(v)) for v in bbox)
        shape = self._predictor(image, dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def face_width(landmarks: np.ndarray) -> float:
    """Width of the jaw (points 0 to 16 of ``(68, 2)`` landmarks) in pixels: the face's scale."""
    return float(np.linalg.norm(np.asarray(landmarks)[16] - np.asarray(landmarks)[0]))


def landmarks_bbox(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """A detector-like square box around 68 landmarks, used to re-predict on the next frame."""
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
    # dlib's HOG boxes sit a little above the landmark box and cover about 90 % of its size
    cy -= 0.05 * side
    half = 0.5 * side
    return (float(cx - half), float(cy - half), float(cx + half), float(cy + half))
