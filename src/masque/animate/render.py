"""Drawing a moved face: one mesh warp over the whole picture, and a mouth interior the photo lacks.

**The scene mesh** (:class:`SceneRig`, built once per photo). Its vertices are, from the inside out:

1. the face mesh of the one-shot swap (:func:`masque.compose.warp.mesh_points`: 68 landmarks,
   forehead, and a ring just outside them), which follows the driven landmarks exactly;
2. a **head ring** (the face outline pushed out to :data:`HEAD_GROWTH` of its radius: hair, ears,
   the top of the neck), which takes :data:`HEAD_WEIGHT` of the head's rigid motion;
3. a **falloff ring** further out (:data:`FAR_GROWTH`), which takes :data:`FAR_WEIGHT` of it;
4. **anchors** along the picture's border, which never move.

Points below the chin take less of the motion (:data:`NECK_WEIGHT` of it): a nod turns the head,
not the shoulders. The triangulation is made once on the photo (with eyes and mouth drawn open,
so a later blink or yawn does not fold it) and reused; every frame is one ``cv2.remap``.

**The mouth** (:func:`paint_mouth`). A closed-mouth photo has no inside to stretch: where the
driven inner lips open wider than the photo's, the inside is painted: the driving frame's own
mouth interior (teeth, tongue, the dark cavity) warped onto the new inner-lip outline and
brought to the photo's colours by the ratio of the two faces' cheek colours; where the driving
mouth is too small to lend one, a dark cavity in the photo's lip colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from masque.compose.warp import mesh_points, open_features, warp_mesh
from masque.face.expression import mouth_openness
from masque.face.mask import mask_points

#: head ring and falloff ring, as multiples of the face outline's radius
HEAD_GROWTH, FAR_GROWTH = 1.75, 2.7
#: share of the head's rigid motion the head ring and the falloff ring take
HEAD_WEIGHT, FAR_WEIGHT = 0.9, 0.35
#: what points below the chin keep of their ring's share
NECK_WEIGHT = 0.45
#: border anchors per side of the picture
ANCHORS_PER_SIDE = 6
#: the inner-lip openness (gap over width) beyond the photo's at which painting is fully on
MOUTH_RAMP = (0.03, 0.12)
#: cheek polygons (landmark indices) sampled for the faces' skin colour
_CHEEKS = (np.array([1, 2, 3, 48, 31, 29]), np.array([15, 14, 13, 54, 35, 29]))
_FAN = np.array([[8, i, (i + 1) % 8] for i in range(8)], np.int32)  # inner lips around their centre


def _ring(landmarks: np.ndarray, growth: float) -> np.ndarray:
    outline = mask_points(landmarks, "extended").astype(np.float64)
    centre = outline.mean(axis=0)
    return centre + (outline - centre) * growth


def _border(width: int, height: int, n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n + 1)[:-1]
    w, h = width - 1.0, height - 1.0
    return np.concatenate([np.stack([t * w, 0 * t], 1), np.stack([w + 0 * t, t * h], 1),
                           np.stack([w - t * w, h + 0 * t], 1), np.stack([0 * t, h - t * h], 1)])


@dataclass(frozen=True)
class SceneRig:
    """A photo prepared for animation.

    Attributes:
        image: RGB ``(H, W, 3)`` ``uint8`` photo, at output size.
        landmarks: ``(68, 2)`` ``float32`` its landmarks (pixels).
        points: ``(N, 2)`` ``float64`` mesh vertices on the photo: face mesh, rings, anchors.
        face: how many leading vertices are the face mesh (moved by the driven landmarks).
        weights: ``(N,)`` share of the head's rigid motion each vertex takes (0 for anchors).
        triangles: ``(T, 3)`` ``int32`` triangulation of ``points``.
        skin: ``(3,)`` mean cheek colour (RGB), for matching the driving mouth's colours.
        lips: ``(3,)`` mean lip colour (RGB), the base of a painted cavity.
    """

    image: np.ndarray
    landmarks: np.ndarray
    points: np.ndarray
    face: int
    weights: np.ndarray
    triangles: np.ndarray
    skin: np.ndarray
    lips: np.ndarray


def build_rig(image: np.ndarray, landmarks: np.ndarray) -> SceneRig:
    """The :class:`SceneRig` of an RGB ``(H, W, 3)`` ``uint8`` photo with ``(68, 2)`` landmarks."""
    h, w = image.shape[:2]
    lm = np.asarray(landmarks, np.float32)
    face = mesh_points(lm).astype(np.float64)
    rings, weights = [], []
    chin = float(lm[8, 1])
    for growth, share in ((HEAD_GROWTH, HEAD_WEIGHT), (FAR_GROWTH, FAR_WEIGHT)):
        ring = _ring(lm, growth)
        share_of = np.where(ring[:, 1] > chin, share * NECK_WEIGHT, share)
        # a vertex near or past the border would fight the anchors there
        inside = ((ring[:, 0] > 0.04 * w) & (ring[:, 0] < 0.96 * w) & (ring[:, 1] > 0.04 * h) & (ring[:, 1] < 0.96 * h))
        rings.append(ring[inside])
        weights.append(share_of[inside])
    border = _border(w, h, ANCHORS_PER_SIDE)
    points = np.concatenate([face, *rings, border])
    shares = np.concatenate([np.ones(len(face)), *weights, np.zeros(len(border))])
    opened = np.concatenate([mesh_points(open_features(lm)).astype(np.float64), *rings, border])
    triangles = Delaunay(opened).simplices.astype(np.int32)
    return SceneRig(image, lm, points, len(face), shares, triangles, region_mean(image, lm, _CHEEKS),
                    region_mean(image, lm, (np.arange(48, 60),)))


def region_mean(image: np.ndarray, landmarks: np.ndarray, polygons: tuple[np.ndarray, ...]) -> np.ndarray:
    """``(3,)`` ``float64`` mean colour inside the landmark ``polygons`` of an ``(H, W, 3)`` image."""
    lm = np.asarray(landmarks, np.float64)
    idx = np.concatenate(polygons)
    x0, y0 = np.floor(lm[idx].min(0)).astype(int)
    x1, y1 = np.ceil(lm[idx].max(0)).astype(int) + 1
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return np.full(3, 128.0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for poly in polygons:
        cv2.fillPoly(mask, [np.round(lm[poly] - (x0, y0)).astype(np.int32)], 255)
    if not mask.any():
        return np.full(3, 128.0)
    return np.asarray(cv2.mean(image[y0:y1, x0:x1], mask)[:3], np.float64)


def scene_points(rig: SceneRig, landmarks: np.ndarray, rigid: np.ndarray) -> np.ndarray:
    """Where the rig's vertices go: the face mesh onto the driven ``(68, 2)`` ``landmarks``, the
    rings part of the way along the head's rigid motion ``(2, 3)`` (photo pixels), anchors nowhere.

    Returns:
        ``(N, 2)`` ``float64``, in the order of ``rig.points``.
    """
    moved = rig.points[rig.face:] @ rigid[:, :2].T + rigid[:, 2]
    outer = rig.points[rig.face:] + rig.weights[rig.face:, None] * (moved - rig.points[rig.face:])
    return np.concatenate([mesh_points(landmarks).astype(np.float64), outer])


def render(rig: SceneRig, points: np.ndarray, step: int = 2) -> np.ndarray:
    """The photo warped so its vertices land on ``points`` ``(N, 2)``: RGB ``uint8``, photo-sized.

    Pixels no triangle covers (the anchors hold the border, so only slivers where the mesh
    folded at the very edge) keep the photo's.
    """
    h, w = rig.image.shape[:2]
    out, covered = warp_mesh(rig.image, rig.points, points, rig.triangles, (0, 0, w, h), step=step)
    if not covered.all():
        out[~covered] = rig.image[~covered]
    return out


def mouth_weight(driven: np.ndarray, own: np.ndarray) -> float:
    """How much of a painted interior the driven mouth needs, 0-1: 0 while it opens no wider than
    the picture's own mouth ``own`` (whose inside the warp can stretch), 1 well beyond it."""
    extra = mouth_openness(driven) - mouth_openness(own)
    lo, hi = MOUTH_RAMP
    return float(np.clip((extra - lo) / (hi - lo), 0.0, 1.0))


def paint_mouth(out: np.ndarray, driven: np.ndarray, weight: float, skin: np.ndarray, lips: np.ndarray,
                driving: np.ndarray | None = None, driving_landmarks: np.ndarray | None = None) -> None:
    """Paint a mouth interior into ``out`` (RGB ``(H, W, 3)`` ``uint8``, in place) inside the
    driven inner lips (points 60-67 of ``driven``), at opacity ``weight``.

    Args:
        skin: ``(3,)`` the picture's cheek colour; ``lips``: its lip colour.
        driving: the RGB driving frame lending its interior, with its ``driving_landmarks``;
            without them (a lost face) a dark cavity is painted.
    """
    if weight <= 0:
        return
    dst = np.asarray(driven, np.float64)[60:68]
    dst = np.vstack([dst, dst.mean(0)])
    h, w = out.shape[:2]
    x0, y0 = np.maximum(np.floor(dst.min(0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(dst.max(0)).astype(int) + 3, (w, h))
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    # a cavity in the lips' hue, darkest at the back: lighter under the upper lip, as light falls in
    rows = np.linspace(1.0, 0.0, y1 - y0, dtype=np.float32)[:, None, None]
    inside = np.empty((y1 - y0, x1 - x0, 3), np.float32)
    inside[:] = (lips * (0.18 + 0.17 * rows)).astype(np.float32)
    if driving is not None and driving_landmarks is not None:
        src = np.asarray(driving_landmarks, np.float64)[60:68]
        src = np.vstack([src, src.mean(0)])
        lent = mouth_openness(driving_landmarks)
        if lent > 0.05:
            warped, covered = warp_mesh(driving, src, dst, _FAN, (x0, y0, x1, y1), step=1)
            their_skin = region_mean(driving, driving_landmarks, _CHEEKS)
            gain = np.clip(skin / np.maximum(their_skin, 1.0), 0.6, 1.6)
            lend = float(np.clip((lent - 0.05) / 0.1, 0.0, 1.0))
            toned = np.clip(warped.astype(np.float32) * gain.astype(np.float32), 0, 255)
            inside[covered] = lend * toned[covered] + (1 - lend) * inside[covered]
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((dst[:8] - (x0, y0)) * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    alpha = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] * (weight / 255.0)
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(patch + alpha * (inside - patch), 0, 255).astype(np.uint8)

