"""Piecewise affine warp of one face onto another over a Delaunay triangulation of their landmarks.

The mesh has the 68 iBUG landmarks, ten forehead points above the brows (the top of the
``extended`` face mask), and a ring of points around that outline, so the warp reaches a little
past the mask and blending has real pixels to work with. The triangulation is
computed once, on the source, and reused for every target: each triangle keeps the same three
points, so triangle ``k`` of the source is mapped affinely onto triangle ``k`` of the target.

The warp is a single ``cv2.remap``: every target pixel is labelled with the triangle it falls
in, and that triangle's target-to-source affine gives the pixel's source position. There are no
per-triangle crops or seams, and the cost is one small rasterisation plus one lookup per pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from masque.face.mask import mask_points

#: how far the ring of extra points sits outside the face outline, as a fraction of its radius
RING_GROWTH = 0.2
#: the eyes' and inner mouth's points, as the corner-lid-lid-corner-lid-lid cycles dlib uses
_EYES = (np.arange(36, 42), np.arange(42, 48))
_INNER_MOUTH = np.arange(60, 68)
_SUBPIXEL_BITS = 4  # fillConvexPoly's fixed-point shift: 1/16 px vertex precision


def forehead_points(landmarks: np.ndarray) -> np.ndarray:
    """``(10, 2)`` ``float32``: the brows raised onto the forehead (the ``extended`` mask's top)."""
    return mask_points(landmarks, "extended")[17:].astype(np.float32)


def ring_points(landmarks: np.ndarray, growth: float = RING_GROWTH) -> np.ndarray:
    """``(27, 2)`` ``float32`` points around the face: jaw and forehead pushed out from their centre."""
    outline = mask_points(landmarks, "extended")
    centre = outline.mean(axis=0)
    return (centre + (outline - centre) * (1.0 + growth)).astype(np.float32)


def mesh_points(landmarks: np.ndarray) -> np.ndarray:
    """The mesh's vertices, ``(105, 2)`` ``float32``: the 68 landmarks, :func:`forehead_points`,
    then :func:`ring_points`."""
    lm = np.asarray(landmarks, np.float32)
    return np.concatenate([lm, forehead_points(lm), ring_points(lm)], axis=0)


def _ellipse_cycle(first: np.ndarray, last_corner: np.ndarray, up: np.ndarray, n: int,
                   width: float, height: float) -> np.ndarray:
    """``n`` points on an ellipse between two corners, in dlib's corner, upper..., corner, lower... order."""
    centre = (first + last_corner) / 2
    axis = last_corner - first
    u = axis / max(float(np.linalg.norm(axis)), 1e-6)
    v = up - u * float(up @ u)
    v = v / max(float(np.linalg.norm(v)), 1e-6)
    a = float(np.linalg.norm(axis)) / 2 * width
    theta = np.pi - np.arange(n) * (2 * np.pi / n)
    return centre + a * np.cos(theta)[:, None] * u + a * height * np.sin(theta)[:, None] * v


def open_features(landmarks: np.ndarray) -> np.ndarray:
    """The landmarks with eyes and inner mouth redrawn open, for triangulation only.

    A closed eye or mouth puts lid or lip points on top of each other; Delaunay would drop the
    duplicates or make slivers whose topology breaks when the *target* opens its eyes or mouth.
    Triangulating an idealised open face gives one topology that suits both.
    """
    lm = np.asarray(landmarks, np.float64).copy()
    brow_up = lm[17:27].mean(0) - lm[36:48].mean(0)
    for eye in _EYES:
        lm[eye] = _ellipse_cycle(lm[eye[0]], lm[eye[3]], brow_up, 6, 1.0, 0.35)
    nose_up = lm[33] - (lm[48] + lm[54]) / 2
    lm[_INNER_MOUTH] = _ellipse_cycle(lm[48], lm[54], nose_up, 8, 0.8, 0.3)
    return lm.astype(np.float32)


def triangulate(landmarks: np.ndarray) -> np.ndarray:
    """Delaunay triangles over :func:`mesh_points` of (open-featured) ``landmarks``.

    Returns:
        ``(T, 3)`` ``int32`` vertex indices into :func:`mesh_points`.
    """
    return Delaunay(mesh_points(open_features(landmarks)).astype(np.float64)).simplices.astype(np.int32)


def triangulate_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Delaunay triangles over the 68 (open-featured) ``landmarks`` alone: the face inside its
    jaw-and-brows hull, without :func:`mesh_points`' forehead and ring (about half the triangles).

    Returns:
        ``(T, 3)`` ``int32`` indices into the 68 landmarks.
    """
    return Delaunay(open_features(landmarks).astype(np.float64)).simplices.astype(np.int32)


def _target_inverse(dst_pts: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``((T, 3, 3), (T,) bool)``: each target triangle's inverted ``[x y 1]`` rows (identity where
    degenerate), and which are usable. Shared by every source warped onto the same target."""
    d = np.asarray(dst_pts, np.float64)[triangles]  # (T, 3, 2)
    dh = np.concatenate([d, np.ones((len(triangles), 3, 1))], axis=2)  # rows (x, y, 1)
    ok = np.abs(np.linalg.det(dh)) > 1e-3  # a target triangle of no area covers no pixel
    dh[~ok] = np.eye(3)
    return np.linalg.inv(dh), ok


def _affines(inverse: np.ndarray, src_pts: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T, 6)`` ``float32`` per-triangle affine maps from target to source pixels, from
    :func:`_target_inverse`'s matrices: rows ``(a, b, c, d, e, f)`` with ``u = a x + b y + c``,
    ``v = d x + e y + f``."""
    m = inverse @ np.asarray(src_pts, np.float64)[triangles]  # (T, 3, 2): [x y 1] @ m = [u v]
    return m.transpose(0, 2, 1).reshape(-1, 6).astype(np.float32)


def _label_triangles(points: np.ndarray, triangles: np.ndarray, ids: np.ndarray, origin: tuple[float, float],
                     step: int, shape: tuple[int, int]) -> np.ndarray:
    """``(h, w)`` ``uint16`` map of which triangle covers each cell of a grid ``step`` px apart
    whose cell (0, 0) is centred on ``origin``; 0 where none does."""
    labels = np.zeros(shape, np.uint16)
    local = (np.asarray(points, np.float64) - origin) / step
    local = np.round(local * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    for tri, k in zip(triangles, ids):
        cv2.fillConvexPoly(labels, local[tri], int(k), lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return labels


def warp_mesh(src_image: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, triangles: np.ndarray,
              roi: tuple[int, int, int, int], step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src_image`` so its mesh lands on ``dst_pts``, rendering only the box ``roi``.

    Args:
        src_image: ``(Hs, Ws, 3)`` ``uint8`` source image (any channel order; kept as is; any
            image ``cv2.remap`` takes also works, e.g. ``(Hs, Ws)`` ``float32``).
        src_pts: ``(N, 2)`` mesh vertices in source pixels.
        dst_pts: ``(N, 2)`` the same vertices in target pixels.
        triangles: ``(T, 3)`` ``int32`` from :func:`triangulate`.
        roi: ``(x0, y0, x1, y1)`` box of the target image to render (integers, x1/y1 exclusive).
        step: the sampling map is computed every ``step`` pixels and interpolated in between.
            The map is piecewise linear, so 2 changes it by a small fraction of a pixel at
            triangle edges, at a quarter of the cost.

    Returns:
        ``(image, covered)``: ``(y1-y0, x1-x0, 3)`` ``uint8`` warped pixels and a ``bool`` map of
        the pixels some triangle covers (the rest are 0).
    """
    (warped,), covered = warp_meshes([src_image], [src_pts], dst_pts, triangles, roi, step)
    return warped, covered


def warp_meshes(src_images: list[np.ndarray], src_pts: list[np.ndarray], dst_pts: np.ndarray,
                triangles: np.ndarray, roi: tuple[int, int, int, int],
                step: int = 2) -> tuple[list[np.ndarray], np.ndarray]:
    """:func:`warp_mesh` of several sources onto one target mesh: which triangle covers which
    target pixel depends on the target alone, so it is rasterised once for all of them.

    Returns:
        ``(images, covered)``: one warped image per source, and the ``bool`` map they share.
    """
    x0, y0, x1, y1 = (int(v) for v in roi)
    w, h = x1 - x0, y1 - y0
    # the coarse grid starts one cell before the box and ends one after: upsampling it then
    # interpolates everywhere in the box and never clamps at its border
    pad = 1 if step > 1 else 0
    gx0, gy0 = x0 - pad * step, y0 - pad * step
    gw, gh = -(-w // step) + 2 * pad, -(-h // step) + 2 * pad
    inverse, ok = _target_inverse(dst_pts, triangles)  # the target's alone: once for every source
    # coarse pixel j sits at x = gx0 + step * j + (step - 1) / 2, the centre of its block
    centre = (step - 1) / 2
    labels = _label_triangles(dst_pts, triangles[ok], np.flatnonzero(ok) + 1, (gx0 + centre, gy0 + centre),
                              step, (gh, gw))
    # label 0 (no triangle) maps to a point far outside the source (remap returns 0 there);
    # next to a triangle it borrows that triangle's map, so that interpolating the coarse map
    # (step > 1) stays right up to the covered edge
    grown = np.where(labels > 0, labels, cv2.dilate(labels, np.ones((3, 3), np.uint8))) if step > 1 else labels
    xs = (gx0 + centre + step * np.arange(gw, dtype=np.float32))[None, :]
    ys = (gy0 + centre + step * np.arange(gh, dtype=np.float32))[:, None]
    crop = np.s_[step : step + h, step : step + w]
    full = (gw * step, gh * step)
    covered = (cv2.resize(labels, full, interpolation=cv2.INTER_NEAREST)[crop] if step > 1 else labels) > 0
    out = []
    for image, pts in zip(src_images, src_pts):
        table = np.concatenate([np.array([[0, 0, -1e4, 0, 0, -1e4]], np.float32),
                                _affines(inverse, pts, triangles)], axis=0)
        coef = table[grown]  # (gh, gw, 6)
        map_x = coef[..., 0] * xs + coef[..., 1] * ys + coef[..., 2]
        map_y = coef[..., 3] * xs + coef[..., 4] * ys + coef[..., 5]
        if step > 1:
            # resize's half-pixel convention puts coarse pixel j at fine x = step * j + (step - 1) / 2
            map_x = cv2.resize(map_x, full, interpolation=cv2.INTER_LINEAR)[crop]
            map_y = cv2.resize(map_y, full, interpolation=cv2.INTER_LINEAR)[crop]
        warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warped[~covered] = 0
        out.append(warped)
    return out, covered
