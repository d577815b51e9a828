"""Triangulation and piecewise-affine warp: topology that survives closed eyes and mouths, and a
warp that reproduces known affine maps exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.compose.warp import mesh_points, open_features, triangulate, warp_mesh


@pytest.fixture(scope="module")
def obama(analyzer, photo) -> tuple[np.ndarray, np.ndarray]:
    img = photo("obama.jpg")
    return img, analyzer.detect(img)[0].landmarks


def test_mesh_uses_every_landmark(obama) -> None:
    _, lm = obama
    tri = triangulate(lm)
    assert tri.dtype == np.int32 and tri.shape[1] == 3
    assert set(np.unique(tri)) == set(range(len(mesh_points(lm))))


def test_closed_eyes_and_mouth_still_give_a_full_mesh(obama) -> None:
    _, lm = obama
    closed = lm.copy()
    closed[[37, 38, 43, 44]] = closed[[41, 40, 47, 46]]  # upper lids on the lower ones
    closed[61:64] = closed[[67, 66, 65]]  # inner lips together
    tri = triangulate(closed)
    assert set(np.unique(tri)) == set(range(len(mesh_points(lm))))
    # no sliver: every triangle of the idealised open face has some area
    pts = mesh_points(open_features(closed)).astype(np.float64)[tri]
    u, v = pts[:, 1] - pts[:, 0], pts[:, 2] - pts[:, 0]
    area = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]) / 2
    assert area.min() > 1.0


@pytest.mark.parametrize("step", [1, 2])
def test_warp_reproduces_an_affine_map(obama, step) -> None:
    img, lm = obama
    src_pts = mesh_points(lm)
    # rotate 10 degrees, scale 0.8, shift: every triangle gets the same affine map
    m = cv2.getRotationMatrix2D((450.0, 300.0), 10, 0.8)
    m[:, 2] += (-60, 40)
    dst_pts = src_pts @ m[:, :2].T + m[:, 2]
    roi = (300, 150, 600, 450)
    warped, covered = warp_mesh(img, src_pts, dst_pts, triangulate(lm), roi, step=step)
    expected = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)[150:450, 300:600]
    inner = cv2.erode(covered.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert inner.mean() > 0.5
    assert np.abs(warped.astype(int) - expected)[inner].mean() < 1.0
    assert np.all(warped[~covered] == 0)


def test_identity_warp_returns_the_source(obama) -> None:
    img, lm = obama
    pts = mesh_points(lm)
    roi = (350, 150, 600, 420)
    warped, covered = warp_mesh(img, pts, pts, triangulate(lm), roi)
    assert np.abs(warped.astype(int) - img[150:420, 350:600])[covered].max() <= 1
