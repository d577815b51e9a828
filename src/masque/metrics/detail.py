"""Fine detail: how much high-frequency energy the swapped face keeps compared with the original.

A model that draws a 64 px face stretched onto a 260 px face in the frame leaves a smooth, waxy
face: nothing in the other metrics sees it. Here, per frame, the grey image inside the inner
60 % of the original face's detector box (the same pixels of both frames: eyes, nose, mouth,
cheeks; little hair or background) is filtered with a Laplacian, and

    ratio = mean squared Laplacian of the swapped face / that of the original face

is read at two scales:

* **full scale** (the frame's own pixels): sees all detail, but also film grain, sensor noise,
  compression ringing and sharpening halos, which add energy without adding detail;
* **half scale** (after ``cv2.pyrDown``: a 5-tap Gaussian, then every second pixel), the
  **headline**: grain and one-pixel halos mostly vanish there (white noise keeps about 1/13 of
  its variance), while pores, wrinkles, eyelids and lip lines a viewer sees remain.

1.0 means as much detail as the original, below 1 a softer face (0 a flat one), above 1 more
high-frequency energy than the original (sharper, or, at full scale, noisier). The ratio is
relative to the original, so it needs no calibration per video resolution.

Measured on a 360p ``clip_short`` frame (face box 180 px), ``half / full``: the frame against
itself 1.0 / 1.0, a JPEG q85 re-encode 1.0 / 1.0; a Gaussian blur of 1, 2, 4 px 0.5 / 0.17,
0.17 / 0.04, 0.03 / 0.02; a 4x down and up-sampled frame 0.18 / 0.06; Gaussian noise of 8 grey
levels 1.09 / 4.9 (4 levels: 1.01 / 2.0). An unsharp mask of radius 1 px (amount 1.5) still
reads 2.2 at half scale: a halo that wide is a visible mid-frequency boost, not grain. On the
high-resolution photos (face boxes 260-310 px) a JPEG q85 re-encode reads 1.0 at half scale
but 1.27-1.29 at full scale (its block edges), one more reason the half-scale ratio is the headline.
"""

from __future__ import annotations

import cv2
import numpy as np

#: the central share of the detector box's width and height that is measured
INNER = 0.6
#: below this many pixels on a side (at full scale) the box is too small to say anything
MIN_SIDE = 8
#: original faces with less Laplacian energy than this (grey levels squared) are flat: no ratio
MIN_ENERGY = 1e-3


def inner_box(bbox: tuple[float, float, float, float], shape: tuple[int, ...],
              inner: float = INNER) -> tuple[int, int, int, int]:
    """The central ``inner`` share of ``bbox`` ``(x0, y0, x1, y1)``, integer pixels clipped to ``shape`` ``(H, W)``."""
    x0, y0, x1, y1 = bbox
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, inner * (x1 - x0) / 2, inner * (y1 - y0) / 2
    h, w = shape[:2]
    return (max(0, round(cx - hw)), max(0, round(cy - hh)), min(w, round(cx + hw)), min(h, round(cy + hh)))


def laplacian_energy(grey: np.ndarray) -> float:
    """Mean squared 3x3 Laplacian of a ``(H, W)`` float32 grey image (grey levels 0-255, squared)."""
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT101)
    return float(np.mean(lap.astype(np.float64) ** 2))


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)


def detail_ratio(swapped: np.ndarray, original: np.ndarray,
                 bbox: tuple[float, float, float, float]) -> tuple[float, float]:
    """``(half_scale, full_scale)`` detail ratios of one frame pair (see the module docstring).

    Args:
        swapped: ``(H, W, 3)`` RGB ``uint8`` swapped frame.
        original: ``(H, W, 3)`` RGB ``uint8`` frame it was made from.
        bbox: the original face's detector box ``(x0, y0, x1, y1)`` in those frames' pixels.

    Returns:
        Two ratios >= 0 (1.0 = as much detail as the original; exactly 1.0 for identical frames),
        or NaN for both when the box is smaller than :data:`MIN_SIDE` pixels or the original is flat.
    """
    x0, y0, x1, y1 = inner_box(bbox, original.shape)
    if min(x1 - x0, y1 - y0) < MIN_SIDE:
        return float("nan"), float("nan")
    sw, og = (_grey(img[y0:y1, x0:x1]) for img in (swapped, original))
    ratios = []
    for a, b in ((cv2.pyrDown(sw), cv2.pyrDown(og)), (sw, og)):
        e_og = laplacian_energy(b)
        ratios.append(laplacian_energy(a) / e_og if e_og > MIN_ENERGY else float("nan"))
    return ratios[0], ratios[1]
