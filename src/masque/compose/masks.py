"""The masks of one target face: where the new face is pasted, and where colour is measured.

Shared by the one-shot swap and convert. Both are drawn from the target's 68 landmarks, in the
pixels of a box (``roi``) of the frame or of an aligned crop:

- the *paste* mask is the hull of the face (jaw and brows, plus the forehead for ``extended``),
  less the target's own inner mouth. The forehead part is kept only where the target's pixels
  look like the skin of its cheeks and nose (a fringe or hair across the forehead stays), and,
  given the new face, only where it draws skin there too (not its own hair);
- the *statistics* mask is the inner face (the jaw-and-brows hull, eroded) less brows, eyes and
  lips, whose colours differ between any two people and would come back as ghosts through a
  colour correction.
"""

from __future__ import annotations

import cv2
import numpy as np

from masque.compose.blend import expand, shrink
from masque.face.expression import mouth_openness
from masque.face.landmarks import face_width
from masque.face.mask import MaskKind, mask_points

_SUBPIXEL_BITS = 4
#: inner-lip gap / mouth width above which the mouth counts as open
MOUTH_OPEN_RATIO = 0.06
#: squared Mahalanobis distance (Lab) under which a forehead pixel counts as skin; the 99.9 %
#: quantile of chi-square with 3 degrees of freedom is 16.3
_SKIN_DISTANCE2 = 16.0


def _fill(mask: np.ndarray, points: np.ndarray, offset: np.ndarray, value: int = 255, grow: int = 0) -> None:
    """Fill the convex hull of ``points`` grown (or, with ``grow`` < 0, shrunk) by ``|grow|`` px.

    A convex polygon dilated by a disk is the polygon plus its outline drawn ``2r + 1`` wide
    (OpenCV draws thick lines with round ends); eroded, the polygon less that outline. Drawing
    is much cheaper than ``cv2.dilate`` with a large elliptic kernel.
    """
    pts = np.round((points - offset) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    hull = cv2.convexHull(pts)
    cv2.fillConvexPoly(mask, hull, value, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    if grow:
        cv2.polylines(mask, [hull], True, value if grow > 0 else 0, thickness=2 * abs(grow) + 1,
                      lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def skin_like(image: np.ndarray, reference: np.ndarray, region: np.ndarray, keep: np.ndarray,
              step: int = 4) -> np.ndarray:
    """``keep`` grown into the pixels of ``region`` whose colour is like the ``reference`` pixels'.

    A Gaussian colour model in CIE Lab (mean and covariance of the reference pixels); a pixel is
    skin when its squared Mahalanobis distance is under 16 (99.9 % of a Gaussian's own pixels).
    The test runs on a grid ``step`` pixels apart; skin cells are joined to ``keep`` and small
    gaps closed there (so no seam opens between the two), then the answer is interpolated.

    Args:
        image: ``(H, W, 3)`` ``uint8`` RGB.
        reference, region, keep: ``(H, W)`` ``uint8`` masks (non-zero = in).

    Returns:
        ``(H, W)`` ``uint8`` 0/255: ``keep``, plus the skin-coloured part of ``region``.
    """
    h, w = region.shape
    small = shrink(image, step)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    ref = lab[shrink(reference, step).ravel() == 255]
    cells: np.ndarray = np.zeros(small.shape[:2], np.uint8)
    idx = np.flatnonzero(shrink(region, step).ravel())  # every cell that touches the region
    if len(ref) >= 20 and len(idx):
        # a floor of 3 levels on every axis: an evenly lit face must not make the model a needle
        cov = np.cov(ref.T) + np.eye(3) * 9.0
        d = lab[idx] - ref.mean(0)
        dist2 = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov).astype(np.float32), d)
        cells.ravel()[idx[dist2 < _SKIN_DISTANCE2]] = 255
    cells = cv2.morphologyEx(cells, cv2.MORPH_OPEN, _disk(1))  # lone specks among hair
    cells[shrink(keep, step) > 0] = 255
    cells = cv2.morphologyEx(cells, cv2.MORPH_CLOSE, _disk(1))
    grown = expand(cells, step, (w, h)) > 127
    out = np.where(grown & (region > 0), np.uint8(255), np.uint8(0))
    out[keep > 0] = 255
    return out


def swap_masks(landmarks: np.ndarray, roi: tuple[int, int, int, int], target: np.ndarray,
               kind: MaskKind = "extended", keep_mouth: bool = True,
               mouth_open_ratio: float = MOUTH_OPEN_RATIO,
               source: np.ndarray | None = None, step: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The paste and colour-statistics masks of one target face.

    Args:
        landmarks: ``(68, 2)`` target landmarks in frame pixels.
        roi: ``(x0, y0, x1, y1)`` box of the frame the masks cover.
        target: ``(y1-y0, x1-x0, 3)`` ``uint8`` RGB frame pixels of that box.
        kind: ``extended`` (with forehead) or ``components`` (jaw and brows).
        keep_mouth: leave the target's inner mouth out of the paste mask.
        mouth_open_ratio: :func:`mouth_openness` above which the mouth counts as open.
        source: ``(y1-y0, x1-x0, 3)`` ``uint8`` RGB, the new face on this box (the source warped
            onto it, or a decoder's drawing), or ``None``. Given, the forehead is kept only where
            its pixels are skin too (like its own cheeks and nose): a fringe across the source's
            forehead, or the hair a decoder draws at the temples, is not pasted.
        step: grid of the forehead's skin test, in pixels (:func:`skin_like`).

    Returns:
        ``(paste, stats)``: ``(y1-y0, x1-x0)`` ``uint8`` 0/255 masks.
    """
    x0, y0, x1, y1 = roi
    lm = np.asarray(landmarks, np.float64)
    off = np.array([x0, y0], np.float64)
    grow = max(1, int(round(0.02 * face_width(lm))))
    core = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _fill(core, mask_points(lm, "components"), off)
    stats = np.zeros_like(core)
    _fill(stats, mask_points(lm, "components"), off, grow=-2 * grow)
    for part in (lm[17:22], lm[22:27], lm[48:60]):
        _fill(stats, part, off, 0, grow=2 * grow)
    for part in (lm[36:42], lm[42:48]):  # lashes and eye shadow reach well past the lids
        _fill(stats, part, off, 0, grow=3 * grow)
    paste = core
    if kind == "extended":
        hull = np.zeros_like(core)
        _fill(hull, mask_points(lm, "extended"), off)
        paste = skin_like(target, stats, hull, core, step)
        if source is not None:
            paste &= skin_like(source, stats, hull, core, step)
    if keep_mouth:
        # An open mouth keeps the target's teeth and tongue, with a margin so no source lip
        # stretched over the opening shows. A closed one still keeps its lip line: a source
        # with an open mouth would otherwise leave a jagged sliver of squeezed teeth there.
        is_open = mouth_openness(lm) > mouth_open_ratio
        _fill(paste, lm[60:68], off, 0, grow=grow if is_open else max(1, grow // 3))
    return paste, stats
