"""Mirror help for a source photo taken at an angle.

A face turned away shows one side foreshortened, and near the far jaw the warp would reach past
the cheek into the background. When the source is clearly turned, the swapper also warps the
*mirrored* source (its near side flipped onto the far side, landmark for landmark) and uses it
for the target's half that corresponds to the source's far side, blended across the midline.
"""

from __future__ import annotations

import numpy as np

#: iBUG 68-point index of each landmark's mirror image (left-right swap)
MIRROR = np.array(
    [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,  # jaw
     26, 25, 24, 23, 22, 21, 20, 19, 18, 17,  # brows
     27, 28, 29, 30, 35, 34, 33, 32, 31,  # nose
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,  # eyes
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,  # outer lips
     64, 63, 62, 61, 60, 67, 66, 65])  # inner lips
_MIDLINE = [27, 28, 29, 30, 33, 51, 57, 8]
#: jaw-half ratio (nose tip to points 2 and 14) from which mirroring starts, and where it is full
_START, _FULL = np.log(1.25), np.log(1.6)
#: half-width of the blend across the midline, as a fraction of the face width
_BAND = 0.08


def mirror_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The horizontally flipped image and its landmarks, renumbered so index i is the same part."""
    flipped = np.ascontiguousarray(image[:, ::-1])
    lm = np.asarray(landmarks, np.float32)[MIRROR].copy()
    lm[:, 0] = image.shape[1] - 1 - lm[:, 0]
    return flipped, lm


def far_side(landmarks: np.ndarray) -> tuple[int, float]:
    """Which half of the face is foreshortened, and how much the mirror should replace it.

    Returns:
        ``(side, strength)``: ``side`` is +1 when the half of points 9-16 (image right for a
        frontal face) is the far one, -1 for points 0-7; ``strength`` in [0, 1] is 0 for a
        near-frontal face and 1 for a clearly turned one.
    """
    lm = np.asarray(landmarks, np.float64)
    ratio = float(np.linalg.norm(lm[30] - lm[2])) / max(float(np.linalg.norm(lm[30] - lm[14])), 1e-6)
    asym = float(np.log(max(ratio, 1e-6)))
    strength = float(np.clip((abs(asym) - _START) / (_FULL - _START), 0.0, 1.0))
    return (1 if asym > 0 else -1), strength


def mirror_weights(landmarks: np.ndarray, roi: tuple[int, int, int, int], side: int, strength: float,
                   width: float) -> np.ndarray:
    """``(h, w)`` ``float32`` weight of the mirrored warp over the box ``roi`` of a target face.

    0 on the half of the target that matches the source's near side, ``strength`` on the other,
    with a smooth step ``2 * _BAND * width`` wide across the face's midline (nose bridge to chin).
    """
    x0, y0, x1, y1 = roi
    lm = np.asarray(landmarks, np.float64)
    mid = lm[_MIDLINE]
    centre = mid.mean(0)
    _, _, vt = np.linalg.svd(mid - centre)
    normal = np.array([-vt[0, 1], vt[0, 0]])  # perpendicular to the midline's direction
    if normal @ (lm[14 if side > 0 else 2] - centre) < 0:
        normal = -normal
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(centre[0])
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(centre[1])
    t = (np.float32(normal[0]) * xs + np.float32(normal[1]) * ys) / np.float32(2 * _BAND * width) + np.float32(0.5)
    t = np.clip(t, 0, 1)
    return (t * t * (3 - 2 * t) * np.float32(strength)).astype(np.float32)
