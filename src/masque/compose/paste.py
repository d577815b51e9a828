"""Paste a generated face back into its frame: warp with the inverse alignment, match colour,
blend. All work happens in the face's region of the frame, not the whole frame."""

from __future__ import annotations

import cv2
import numpy as np

from masque.compose.blend import blend
from masque.compose.color import ColorMatcher, match_color
from masque.face.align import paste_matrix

#: default blend width, as a share of the aligned crop's side in the frame (0.06 before issue 12:
#: too narrow for the step a colour or mask mismatch leaves, which showed as an oval edge)
FEATHER = 0.15


def face_region(matrix: np.ndarray, size: int, frame_shape: tuple[int, ...],
                pad: int = 4) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` of the frame covered by an aligned ``size`` crop, clipped; ``None`` if outside."""
    inv = paste_matrix(matrix)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(corners.min(0)).astype(int) - pad
    x1, y1 = np.ceil(corners.max(0)).astype(int) + pad
    h, w = frame_shape[:2]
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
    return None if x1 - x0 < 4 or y1 - y0 < 4 else (x0, y0, x1, y1)


def paste_face(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, matrix: np.ndarray, *, color: str = "rct",
               blender: str = "gaussian", erode: float = 0.0, feather: float | None = None,
               matcher: ColorMatcher | None = None) -> np.ndarray:
    """Put an aligned face back into ``frame``.

    Args:
        frame: ``(H, W, 3)`` ``uint8`` RGB frame (not modified).
        face: ``(S, S, 3)`` ``uint8`` RGB generated face, in the crop that ``matrix`` defines.
        mask: ``(S, S)`` ``float32`` in [0, 1] (learned or from landmarks), in the same crop.
        matrix: ``(2, 3)`` frame-to-crop alignment matrix.
        color: colour matcher name (``rct``, ``hist``, ``avg``, ``ratio``, ``none``).
        blender: blender name (``gaussian``, ``poisson``, ``seamless``, ``none``).
        erode: shrink the mask by this many frame pixels (negative grows it).
        feather: blend width in frame pixels; ``None`` = :data:`FEATHER` of the crop's side in the frame.
        matcher: a colour matcher to use instead of the one named by ``color`` (convert passes
            one smoothed over time, :class:`masque.compose.temporal.SmoothedColor`).

    Returns:
        A new ``(H, W, 3)`` ``uint8`` RGB frame.
    """
    size = face.shape[0]
    roi = face_region(matrix, size, frame.shape)
    if roi is None:
        return frame.copy()
    x0, y0, x1, y1 = roi
    inv = paste_matrix(matrix)
    inv[:, 2] -= (x0, y0)  # into region coordinates
    dsize = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(face, inv, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # fade the mask out at the crop's own border so no square edge can show
    border = np.zeros((size, size), np.float32)
    cv2.rectangle(border, (2, 2), (size - 3, size - 3), 1.0, -1)
    m = cv2.warpAffine(np.asarray(mask, np.float32) * border, inv, dsize, flags=cv2.INTER_LINEAR)
    scale = float(np.sqrt(abs(np.linalg.det(inv[:, :2]))))  # frame px per crop px
    m8 = _erode((m > 0.5).astype(np.uint8) * 255, erode)
    if not m8.any():
        return frame.copy()
    region = frame[y0:y1, x0:x1]
    warped = matcher(warped, region, m8) if matcher is not None else match_color(color, warped, region, m8)
    feather_px = FEATHER * size * scale if feather is None else feather
    out = frame.copy()
    out[y0:y1, x0:x1] = blend(blender, warped, region, m8, feather_px)
    return out


def _erode(mask: np.ndarray, px: float) -> np.ndarray:
    k = round(abs(px))
    if k == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    return cv2.erode(mask, kernel) if px > 0 else cv2.dilate(mask, kernel)
