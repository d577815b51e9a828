"""Face masks drawn from 68 landmarks, in whatever pixels the landmarks are in."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from masque.errors import ConfigError

MaskKind = Literal["components", "extended"]
MASK_KINDS: tuple[str, ...] = ("components", "extended")


def mask_points(landmarks: np.ndarray, kind: MaskKind = "components") -> np.ndarray:
    """The outline of the mask, ``(N, 2)`` ``float32``: jaw plus brows, brows raised for ``extended``."""
    lm = np.asarray(landmarks, np.float32)
    if kind not in MASK_KINDS:
        raise ConfigError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}; pass one of those")
    brows = lm[17:27].copy()
    if kind == "extended":
        # raise each brow by most of its height above the eye below it: covers the forehead
        left_eye, right_eye = lm[36:42].mean(0), lm[42:48].mean(0)
        eyes = np.where(np.arange(10)[:, None] < 5, left_eye, right_eye)
        brows = brows + (brows - eyes) * 0.9
    return np.concatenate([lm[0:17], brows], axis=0)


def landmark_mask(landmarks: np.ndarray, shape: tuple[int, int], kind: MaskKind = "components") -> np.ndarray:
    """A filled mask of the face.

    Args:
        landmarks: ``(68, 2)`` points in the pixels of the target image.
        shape: ``(H, W)`` of the target image.
        kind: ``components`` (hull of jaw and brows) or ``extended`` (forehead included).

    Returns:
        ``(H, W)`` ``uint8`` mask, 255 inside the face, 0 outside.
    """
    mask = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(mask_points(landmarks, kind)).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA)
    return mask
