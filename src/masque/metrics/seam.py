"""Visible seams: gradient energy along the border of the pasted region relative to the face interior.

A face pasted without a good blend leaves an edge where its mask ends. Measuring edges of the
swapped frame alone cannot tell such a seam from the jaw line or hair that is there anyway, so
the edges are measured on the *change*, ``swapped - original``: where the swap altered the frame,
the border of that region is the blend border, and a seam is a step in the change across it.

score = mean squared derivative, across the border, of the change (smoothed by 0.05 inter-ocular
distances so that changed skin texture, which a swap is meant to bring, counts little) in a band
along the border of the changed region / mean squared gradient of the swapped face's interior,
with the face resampled to a fixed size first. An untouched frame scores exactly 0. On the
fixtures: a JPEG re-encode 0.000, Poisson-cloned or feathered pastes 0.03-0.04, masque's one-shot
swap 0.03-0.07, a hard paste of a warped face 0.13, of a 30-40 level colour shift 0.18-0.27.
"""

from __future__ import annotations

import cv2
import numpy as np

from masque.face.landmarks import inter_ocular
from masque.face.mask import landmark_mask

#: faces are measured resampled to this inter-ocular distance in pixels, so the score does not
#: depend on the resolution of the video (and a 4K frame costs no more than a 360p one)
WORK_IOD = 48.0
#: half-width of the border band, in inter-ocular distances
BAND = 0.06
#: a pixel counts as changed when the blurred change exceeds this (grey levels of 255); above
#: the noise of re-encoding a video at x264 CRF 18
CHANGE_THRESHOLD = 6.0
#: how far beyond the extended face mask a paste is looked for, in inter-ocular distances
REACH = 0.5
#: the change is smoothed by this many inter-ocular distances before its gradient is taken
SMOOTH = 0.05


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """Squared Sobel gradient magnitude summed over channels, ``(H, W)`` float32.

    Args:
        image: ``(H, W, C)`` float32 image in units of 1/255 (a uint8 image or a difference of two).
    """
    img = np.asarray(image, np.float32) / 255.0
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    energy = gx * gx + gy * gy
    return energy.sum(axis=2) if energy.ndim == 3 else energy


def normal_energy(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Squared derivative of ``image`` across the border of ``region`` (along its normal), summed over channels.

    Texture inside a changed face has edges in every direction; a seam's edge runs along the
    border. Keeping only the across-border derivative halves texture and keeps seams whole.
    """
    img = np.asarray(image, np.float32) / 255.0
    soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), 3.0)
    nx, ny = cv2.Sobel(soft, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(soft, cv2.CV_32F, 0, 1, ksize=3)
    norm = np.sqrt(nx * nx + ny * ny) + 1e-6
    nx, ny = nx / norm, ny / norm
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    across = gx * nx[..., None] + gy * ny[..., None]
    return (across * across).sum(axis=2)


def _inside_by(mask: np.ndarray, distance: float) -> np.ndarray:
    """Pixels of a 0/255 ``mask`` more than ``distance`` px from its outside (an erosion, in O(N))."""
    return cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 3) > distance


def _within(mask: np.ndarray, distance: float) -> np.ndarray:
    """Pixels of a 0/255 ``mask`` or at most ``distance`` px outside it (a dilation, in O(N))."""
    return cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 3) <= distance


def changed_region(change: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(region, near)``: the filled region the swap altered around the face, and where it was looked for.

    Args:
        change: ``(H, W, 3)`` float32 ``swapped - original`` in grey levels.
        landmarks: ``(68, 2)`` landmarks of the original face in the same pixels.

    Returns:
        ``region``, a ``(H, W)`` ``uint8`` 0/255 mask (the landmark mask when almost nothing
        changed, so an untouched frame still gets a band to score, and scores 0 on it), and
        ``near``, a boolean ``(H, W)`` mask.
    """
    shape = change.shape[:2]
    iod = inter_ocular(landmarks)
    face = landmark_mask(landmarks, shape, "components")
    near = _within(landmark_mask(landmarks, shape, "extended"), REACH * iod)
    mag = cv2.GaussianBlur(np.abs(change).max(axis=2), (0, 0), 0.04 * iod)
    changed = ((mag > CHANGE_THRESHOLD) & near).astype(np.uint8) * 255
    close = max(1, int(0.1 * iod))
    changed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close + 1, 2 * close + 1)))
    contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    region = np.zeros(shape, np.uint8)
    if contours:  # the largest changed blob, holes filled: eyes a swap left alone are still inside
        cv2.drawContours(region, [max(contours, key=cv2.contourArea)], -1, 255, thickness=cv2.FILLED)
    if np.count_nonzero(region) < 0.1 * np.count_nonzero(face):
        return face, near
    return region, near


def _face_crops(swapped: np.ndarray, original: np.ndarray,
                landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both frames cropped around the face and resampled to :data:`WORK_IOD`, float32, and the landmarks there."""
    lm = np.asarray(landmarks, np.float32)
    h, w = swapped.shape[:2]
    iod = inter_ocular(lm)
    pad = int((REACH + 0.5) * iod) + 4
    x0, y0 = np.maximum(np.floor(lm.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(lm.max(0)).astype(int) + pad, (w, h))
    scale = WORK_IOD / max(iod, 1.0)
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    interp = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR  # AREA is slow at non-integer ratios
    sw, og = (cv2.resize(img[y0:y1, x0:x1], size, interpolation=interp).astype(np.float32)
              for img in (swapped, original))
    return sw, og, (lm - np.array([x0, y0], np.float32)) * np.float32(scale)


def seam_score(swapped: np.ndarray, original: np.ndarray, landmarks: np.ndarray) -> float:
    """How visible the blend border of a swap is (see the module docstring).

    Args:
        swapped: ``(H, W, 3)`` RGB ``uint8`` swapped frame.
        original: ``(H, W, 3)`` RGB ``uint8`` frame it was made from.
        landmarks: ``(68, 2)`` landmarks of the original face, in those frames' pixels.

    Returns:
        The score (>= 0, dimensionless), or NaN when the face is too small to have an interior.
    """
    sw, og, lm = _face_crops(swapped, original, landmarks)
    change = sw - og
    region, near = changed_region(change, lm)
    half = BAND * WORK_IOD
    band = _within(region, half) & ~_inside_by(region, half)
    band &= _inside_by(near.astype(np.uint8), half)  # where the search area cut the region off is no border
    interior = _inside_by(landmark_mask(lm, sw.shape[:2], "components"), 0.15 * WORK_IOD)
    if not band.any() or not interior.any():
        return float("nan")
    change = cv2.GaussianBlur(change, (0, 0), SMOOTH * WORK_IOD)
    inside = float(gradient_energy(sw)[interior].mean())
    return float(normal_energy(change, region)[band].mean() / max(inside, 1e-8))
