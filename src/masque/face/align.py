"""Alignment: a similarity transform (Umeyama) of the landmarks onto a mean-face template.

The template is dlib's mean face (landmarks 17-67, normalised to [0, 1]; from dlib's
``get_face_chip_details``, Boost Software License). The jaw is left out on purpose: its outline
moves with pose and expression and would pull the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from masque.errors import ConfigError

Centering = Literal["face", "head"]

# fmt: off
_MEAN_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991,
    0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217,
    0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
    0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
    0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096,
    0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
]
_MEAN_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482,
    0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106,
    0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733,
    0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578,
    0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792,
    0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
]
# fmt: on

#: ``(51, 2)`` mean positions of landmarks 17-67 in [0, 1]
MEAN_FACE = np.stack([_MEAN_X, _MEAN_Y], axis=1).astype(np.float64)

# (padding around the template as a fraction of it, downward shift as a fraction of the crop):
# "face" keeps brows to chin; "head" keeps hair and ears too.
_CENTERING: dict[str, tuple[float, float]] = {"face": (0.32, 0.02), "head": (0.75, 0.07)}


def template_points(size: int, centering: Centering = "face", coverage: float = 1.0) -> np.ndarray:
    """The template's landmarks 17-67 in the pixels of a ``size`` x ``size`` crop, ``(51, 2)``.

    ``coverage`` < 1 zooms in: the crop then shows only the central ``coverage`` fraction of the
    full ``centering`` crop (faceswap's "coverage"; models train on such a central window).
    """
    if centering not in _CENTERING:
        raise ConfigError(f"centering must be one of {sorted(_CENTERING)}, got {centering!r}; pass one of those")
    pad, shift = _CENTERING[centering]
    unit = (MEAN_FACE + pad) / (1 + 2 * pad) + np.array([0.0, shift])
    return ((unit - 0.5) / coverage + 0.5) * size


def umeyama(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) taking src to dst.

    Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns", PAMI 1991, with optional per-point weights. ``src`` and ``dst`` are ``(N, 2)``;
    returns a ``(2, 3)`` matrix.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    cov = (d * w[:, None]).T @ s
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection is not a similarity
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / (w @ (s**2).sum(1))
    mat = np.empty((2, 3))
    mat[:, :2] = scale * rot
    mat[:, 2] = mu_d - scale * rot @ mu_s
    return mat


# The eye corners weigh 5x in the fit: eyes then land on the template within about 2 px on
# near-frontal faces (1x leaves 3-4 px), which steadies training crops, while the other 39
# points still set scale and rotation when eyes are half closed.
_FIT_WEIGHTS = np.ones(51)
_FIT_WEIGHTS[36 - 17:48 - 17] = 5.0


def alignment_matrix(landmarks: np.ndarray, size: int = 256, centering: Centering = "face",
                     coverage: float = 1.0) -> np.ndarray:
    """The ``(2, 3)`` ``float64`` matrix taking source pixels to aligned-crop pixels."""
    return umeyama(np.asarray(landmarks)[17:], template_points(size, centering, coverage), _FIT_WEIGHTS)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to ``(N, 2)`` points; returns ``float32``."""
    pts = np.asarray(points, np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


@dataclass(frozen=True)
class AlignedFace:
    """A face cropped onto the template.

    Attributes:
        image: ``(size, size, 3)`` ``uint8`` RGB crop.
        matrix: ``(2, 3)`` source-to-crop matrix; :func:`paste_matrix` gives the inverse.
        landmarks: ``(68, 2)`` ``float32`` landmarks in crop pixels.
    """

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 256,
               centering: Centering = "face", coverage: float = 1.0) -> AlignedFace:
    """Warp the face with ``landmarks`` (68, 2, source pixels) out of an RGB ``uint8`` image."""
    mat = alignment_matrix(landmarks, size, centering, coverage)
    return AlignedFace(warp_crop(image, mat, size), mat, transform_points(landmarks, mat))


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp ``image`` by ``matrix`` into a ``size`` x ``size`` crop without aliasing.

    warpAffine has no area filter, so a big shrink (a face in a large photo) would alias: warp
    at about the source's scale first, then shrink with ``INTER_AREA``.
    """
    scale = mat_scale(matrix)
    if scale >= 0.75:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT101)
    big = int(np.ceil(size / scale))
    up = np.asarray(matrix, np.float64) * (big / size)
    crop = cv2.warpAffine(image, up, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def mat_scale(matrix: np.ndarray) -> float:
    """The uniform scale of a similarity matrix."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def paste_matrix(matrix: np.ndarray) -> np.ndarray:
    """The ``(2, 3)`` crop-to-source matrix, the inverse of an alignment matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def eye_template(size: int = 256, centering: Centering = "face") -> tuple[np.ndarray, np.ndarray]:
    """Where the eye centres (means of points 36-41 and 42-47) sit in the crop."""
    pts = template_points(size, centering)
    return pts[36 - 17:42 - 17].mean(0), pts[42 - 17:48 - 17].mean(0)
