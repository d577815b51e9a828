"""Expression measures from the 68 iBUG landmarks: how open the eyes and the mouth are.

Both are ratios of distances, so they do not depend on the face's size or the image's scale.

>>> import numpy as np
>>> lm = np.zeros((68, 2)); lm[[36, 39, 42, 45], 0] = [0, 10, 20, 30]   # eye corners, 10 px wide
>>> lm[[37, 38, 43, 44], 1] = -2; lm[[41, 40, 47, 46], 1] = 2             # lids 4 px apart
>>> round(eye_aspect_ratio(lm), 2)
0.4
"""

from __future__ import annotations

import numpy as np


def eye_aspect_ratio(landmarks: np.ndarray) -> float:
    """Mean over both eyes of (the two lid gaps) / (2 x the eye's width) (Soukupova and Cech 2016).

    Args:
        landmarks: ``(68, 2)`` landmarks, any pixel scale.

    Returns:
        About 0.02-0.13 for shut eyes, 0.15-0.21 squinting, 0.22-0.4 open (the fixture clips).
    """
    lm = np.asarray(landmarks, np.float64)

    def one(p: np.ndarray) -> float:
        lids = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
        return lids / max(2.0 * float(np.linalg.norm(p[0] - p[3])), 1e-6)

    return (one(lm[36:42]) + one(lm[42:48])) / 2.0


def mouth_openness(landmarks: np.ndarray) -> float:
    """Mean inner-lip gap (61-67, 62-66, 63-65) divided by the inner mouth's width (60-64).

    Args:
        landmarks: ``(68, 2)`` landmarks, any pixel scale.

    Returns:
        0-0.05 for closed lips; a yawn or a shout, whose gap nears the mouth's width, 0.5 and up.
    """
    lm = np.asarray(landmarks, np.float64)
    gap = np.linalg.norm(lm[[61, 62, 63]] - lm[[67, 66, 65]], axis=1).mean()
    return float(gap / max(np.linalg.norm(lm[64] - lm[60]), 1e-6))
