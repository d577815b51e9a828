"""Image quality scores of aligned faces."""

from __future__ import annotations

import cv2
import numpy as np


def blur_score(face: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Blurriness of an aligned face: higher is blurrier.

    ``100 / sqrt(var(Laplacian))`` of the grey face (inside ``mask`` when given), computed at
    128 px so the score does not depend on the crop size. Sharp faces score below about 10,
    visibly soft ones above 20.

    Args:
        face: ``(S, S, 3)`` RGB ``uint8`` aligned face.
        mask: optional ``(S, S)`` ``uint8`` mask, non-zero where the face is.
    """
    gray = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA)
    lap = cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F)
    if mask is not None:
        m = cv2.resize(mask, (128, 128), interpolation=cv2.INTER_NEAREST) > 0
        m = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # skip the mask edge
        lap = lap[m] if m.any() else lap
    return float(100.0 / np.sqrt(float(lap.var()) + 1e-6))
