"""A source photo without natural skin colour (greyscale, strong casts) takes its chroma from the
target.

A Reinhard transfer cannot give colour to a grey face: it scales the source's a/b spread, which
is zero, and only shifts its mean. So a source whose skin chroma (CIE Lab, measured on the cheeks
and nose) is almost absent, or whose hue lies far from skin's, is flagged once, when the swapper
is built; for such a source the warped face keeps its own lightness (``L``: where identity lives)
and takes the target's own ``a``/``b`` field, smoothed, pixel for pixel. The usual colour match
then runs on that face, so shading still comes from the target.

Skin in 8-bit OpenCV Lab (``a`` and ``b`` offset by 128), measured on the cheeks and nose of
the nine fixture photos (Obama, Biden, the four expression photos, ``single_face.jpg``): chroma
13 to 40, hue angle ``atan2(b, a)`` 2 to 55 degrees. Blue, green, cyan and purple casts fall
outside; a red or orange tint does not (it reads as skin and is left to the colour match). A face
counts as natural when its chroma is at least :data:`MIN_SKIN_CHROMA` and its hue within
:data:`SKIN_HUE` (-20 to 80 degrees).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: mean skin chroma (Lab a/b distance from grey, 8-bit levels) under which a face is colourless
MIN_SKIN_CHROMA = 5.0
#: hue angle range (degrees, ``atan2(b, a)``) of natural skin, with margin around the fixtures'
SKIN_HUE = (-20.0, 80.0)
#: blur of the target's a/b field, as a fraction of the face width
_FIELD_SIGMA = 0.03


@dataclass(frozen=True)
class SkinChroma:
    """Mean skin chroma of a face: ``a`` and ``b`` relative to grey (8-bit Lab levels)."""

    a: float
    b: float

    @property
    def chroma(self) -> float:
        return float(np.hypot(self.a, self.b))

    @property
    def hue(self) -> float:
        """Hue angle in degrees, ``atan2(b, a)``, in (-180, 180]."""
        return float(np.degrees(np.arctan2(self.b, self.a)))

    @property
    def natural(self) -> bool:
        """Colourful enough, and of a skin hue."""
        return self.chroma >= MIN_SKIN_CHROMA and SKIN_HUE[0] <= self.hue <= SKIN_HUE[1]


def skin_chroma(image: np.ndarray, mask: np.ndarray) -> SkinChroma:
    """Mean a/b of the pixels of ``image`` (``(H, W, 3)`` ``uint8`` RGB) where ``mask``
    (``(H, W)``, non-zero = in) is set. An empty mask reads as grey."""
    pixels = image[mask > 0]
    if not len(pixels):
        return SkinChroma(0.0, 0.0)
    lab = cv2.cvtColor(pixels.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    return SkinChroma(float(lab[:, 1].mean() - 128), float(lab[:, 2].mean() - 128))


def take_chroma(face: np.ndarray, target: np.ndarray, face_width: float) -> np.ndarray:
    """``face``'s lightness with ``target``'s chroma field, smoothed over 3 % of the face width.

    Args:
        face: ``(H, W, 3)`` ``uint8`` RGB, the source warped onto the target's landmarks.
        target: ``(H, W, 3)`` ``uint8`` RGB, the target's pixels of the same box.
        face_width: the target face's width in pixels.

    Returns:
        ``(H, W, 3)`` ``uint8`` RGB.
    """
    lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB)
    field = cv2.cvtColor(target, cv2.COLOR_RGB2LAB)[..., 1:]
    sigma = max(_FIELD_SIGMA * face_width, 0.5)
    lab[..., 1:] = cv2.GaussianBlur(field, (0, 0), sigma)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
