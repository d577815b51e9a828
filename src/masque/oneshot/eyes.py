"""Eyes keep the target's openness when the source's differs a lot.

The warp lays every source landmark on the target's, lids included, so a source with closed eyes
pasted on open target eyes has its lid skin (and lashes) stretched over the target's eye opening:
a dead, blank stare. Warping the source eye open cannot invent an iris it never showed, so the
choice here is the other one: when the smaller of the two faces' eye aspect ratios is under
:data:`EYE_OPEN_RATIO` times the larger (one face's eyes closed or half closed, the other's
open), the target's own eyes (the hull of each eye's six landmarks, grown
by 10 % of the face width, feathered over 4 %) are composited back over the swapped face. Source
eyes that are merely a little more or less open than the target's are kept: they carry identity.
A plain difference would not do: open eyes alone read 0.22 (Obama) to 0.38 (the clip's presenter,
eyes wide), and the source's eyes would be dropped on most frames of a video. On a video the
target blinks: so that its eyes do not pop between the source's and its own as the ratio crosses
the threshold, the target's eyes fade in over ratios from 0.1 above the threshold to 0.1 below
it (:func:`eye_strength`).
"""

from __future__ import annotations

import cv2
import numpy as np

from masque.face.expression import eye_aspect_ratio

#: smaller eye aspect ratio (mean of both eyes) over the larger below which the target's eyes are
#: kept; open eyes read 0.22-0.38 on the fixtures (ratios 0.58 and up), closed ones under 0.1
EYE_OPEN_RATIO = 0.5
#: half the width of the fade around the threshold
_RAMP = 0.1
_GROW = 0.10
_FEATHER = 0.04


def eye_strength(source: np.ndarray, target: np.ndarray, threshold: float = EYE_OPEN_RATIO) -> float:
    """How much of the target's eyes to keep, in [0, 1], from two ``(68, 2)`` landmark sets: 0 while
    the smaller eye aspect ratio is over ``threshold`` + 0.1 times the larger, 1 under ``threshold`` - 0.1."""
    a, b = sorted((eye_aspect_ratio(source), eye_aspect_ratio(target)))
    ratio = a / max(b, 1e-6)
    return float(np.clip((threshold + _RAMP - ratio) / (2 * _RAMP), 0.0, 1.0))


def eye_weights(landmarks: np.ndarray, box: tuple[int, int, int, int], face_width: float) -> np.ndarray:
    """Feathered weight of the target's eyes in the box ``(x0, y0, x1, y1)`` of the frame.

    Returns:
        ``(y1-y0, x1-x0)`` ``float32`` in [0, 1]: 1 on each eye (its landmark hull grown by 10 % of
        the face width), falling to 0 over 4 % more.
    """
    x0, y0, x1, y1 = box
    lm = np.asarray(landmarks, np.float64) - np.array([x0, y0], np.float64)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    grow = max(1, int(round(_GROW * face_width)))
    for eye in (lm[36:42], lm[42:48]):
        hull = cv2.convexHull(np.round(eye * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
        cv2.polylines(mask, [hull], True, 255, thickness=2 * grow + 1, lineType=cv2.LINE_AA, shift=4)
    sigma = max(_FEATHER * face_width / 2, 0.5)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), sigma)


def eye_box(landmarks: np.ndarray, face_width: float, roi: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The part of the box ``roi`` (``(x0, y0, x1, y1)`` in the frame) that :func:`keep_target_eyes`
    can change: both eyes, the grown edge and the feather's reach; in ``roi``'s own pixels
    (empty, ``x1 <= x0``, when the eyes lie outside it)."""
    reach = (_GROW + 2 * _FEATHER) * face_width + 2
    lo = np.floor(np.asarray(landmarks)[36:48].min(0) - reach - roi[:2]).astype(int)
    hi = np.ceil(np.asarray(landmarks)[36:48].max(0) + reach - roi[:2]).astype(int)
    x0, y0 = np.maximum(lo, 0)
    x1, y1 = np.minimum(hi, (roi[2] - roi[0], roi[3] - roi[1]))
    return int(x0), int(y0), int(x1), int(y1)


def keep_target_eyes(swapped: np.ndarray, target: np.ndarray, paste: np.ndarray, landmarks: np.ndarray,
                     roi: tuple[int, int, int, int], face_width: float, strength: float = 1.0) -> None:
    """Composite ``target``'s eyes over ``swapped``, in place, ``strength`` (in [0, 1]) of the way.

    Args:
        swapped, target: ``(H, W, 3)`` ``uint8`` RGB pixels of the box ``roi`` of the frame.
        paste: ``(H, W)`` ``uint8`` paste mask: nothing changes outside it.
        landmarks: ``(68, 2)`` target landmarks in frame pixels.
        roi: ``(x0, y0, x1, y1)``: where the three arrays lie in the frame.
        face_width: the target face's width in pixels.
    """
    # only the eyes' box (with the grown edge and the blur's reach) is touched
    x0, y0, x1, y1 = eye_box(landmarks, face_width, roi)
    if x1 <= x0 or y1 <= y0:
        return
    w = eye_weights(landmarks, (roi[0] + x0, roi[1] + y0, roi[0] + x1, roi[1] + y1), face_width)
    w *= np.float32(strength) * (paste[y0:y1, x0:x1] > 0)
    swapped[y0:y1, x0:x1] = cv2.blendLinear(target[y0:y1, x0:x1], swapped[y0:y1, x0:x1], w, 1.0 - w)
