"""Blenders on real faces: nothing outside the mask changes; Poisson keeps the face's gradients and
meets the frame at the edge; the fast membrane agrees with an exact solve and with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from masque.compose.blend import BLENDERS, blend, feather_alpha, harmonic_fill
from masque.face.mask import landmark_mask

SIZE = 240


@pytest.fixture(scope="module")
def scene(analyzer, photo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Obama's face placed on Biden's, Biden's photo crop, mask of Biden's face), one box."""
    crops = []
    for name in ("obama.jpg", "biden.jpg"):
        img = photo(name)
        x0, y0, x1, y1 = (int(v) for v in analyzer.detect(img)[0].bbox)
        m = (x1 - x0) // 4
        crop = img[max(0, y0 - m):y1 + m, max(0, x0 - m):x1 + m]
        crops.append(cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA))
    mask = landmark_mask(analyzer.detect(crops[1])[0].landmarks, (SIZE, SIZE))
    return crops[0], crops[1], mask


def test_required_blenders_are_registered() -> None:
    assert {"poisson", "gaussian", "none"} <= set(BLENDERS.names())


@pytest.mark.parametrize("name", BLENDERS.names())
def test_pixels_outside_the_mask_never_change(scene, name) -> None:
    face, frame, mask = scene
    before = frame.copy()
    out = blend(name, face, frame, mask, 8.0)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    assert np.array_equal(frame, before)  # the input frame is not modified
    assert np.abs(out.astype(int) - frame)[mask > 0].mean() > 5  # and something was pasted


@pytest.mark.parametrize("name", ["none", "gaussian"])
def test_deep_inside_the_face_is_pasted_as_is(scene, name) -> None:
    face, frame, mask = scene
    out = blend(name, face, frame, mask, 8.0)
    deep = cv2.erode(mask, np.ones((21, 21), np.uint8)) > 0
    assert np.array_equal(out[deep], face[deep])


def test_feather_ramp_lies_inside_the_mask() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[20:80, 20:80] = 255
    alpha = feather_alpha(mask, 10)
    assert alpha.dtype == np.float32 and alpha.min() == 0 and alpha.max() == 1
    assert np.all(alpha[mask == 0] == 0)
    assert np.all(alpha[31:69, 31:69] == 1)  # deeper than the feather width
    row = alpha[50, 20:32]
    assert np.all(np.diff(row) >= 0) and 0 < row[4] < 1  # rises across the band


def test_poisson_keeps_the_face_gradients_and_meets_the_frame(scene) -> None:
    face, frame, mask = scene
    out = blend("poisson", face, frame, mask, 6.0)
    hard = blend("none", face, frame, mask, 0.0)
    inner = cv2.erode(mask, np.ones((31, 31), np.uint8)) > 0

    def lap(im: np.ndarray) -> np.ndarray:
        return cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)

    # inside: the face's detail (Laplacian) is kept, up to the uint8 rounding of the sum with a
    # smooth membrane (the hard paste of the frame's own pixels would differ by the full amount)
    assert np.abs(lap(out) - lap(face))[inner].mean() < 0.3 * np.abs(lap(frame) - lap(face))[inner].mean()
    # at the edge: the jump between the pasted face and the frame around it all but vanishes
    ring_in = (mask > 0) & ~(cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0)
    ring_out = (cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0) & (mask == 0)

    def jump(im: np.ndarray) -> float:
        return float(np.abs(im[ring_in].astype(float).mean(0) - im[ring_out].astype(float).mean(0)).sum())

    assert jump(out) < 0.3 * jump(hard)


def test_poisson_agrees_with_opencv_seamless_clone(scene) -> None:
    face, frame, mask = scene
    fast = blend("poisson", face, frame, mask, 6.0).astype(float)
    exact = blend("seamless", face, frame, mask, 6.0).astype(float)
    inner = cv2.erode(mask, np.ones((31, 31), np.uint8)) > 0
    # the solvers differ in boundary handling; the face interior must agree to a few levels
    assert np.abs(fast - exact)[inner].mean() < 6.0


def test_seamless_leaves_the_callers_mask_alone(scene) -> None:
    face, frame, mask = scene
    before = mask.copy()
    blend("seamless", face, frame, mask, 4.0)
    assert np.array_equal(mask, before)  # cv2.seamlessClone erodes its mask argument in place


def test_harmonic_fill_matches_an_exact_sparse_solve() -> None:
    n = 48
    yy, xx = np.mgrid[:n, :n]
    inside = ((xx - 24) ** 2 / 20**2 + (yy - 24) ** 2 / 22**2) < 1
    interior = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    edge = inside & ~interior
    values = np.stack([np.sin(xx / 6.0) * 20 + yy * 0.5, np.cos(yy / 5.0) * 10], -1).astype(np.float32)
    filled = harmonic_fill(values, edge, iters=10)
    # exact: 4 h_p - sum of neighbours = 0 on the interior, edge values fixed
    idx = -np.ones((n, n), int)
    ys, xs = np.nonzero(interior)
    idx[ys, xs] = np.arange(len(ys))
    rows, cols, vals, rhs = [np.arange(len(ys))], [np.arange(len(ys))], [np.full(len(ys), 4.0)], np.zeros((len(ys), 2))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        j = idx[ys + dy, xs + dx]
        ok = j >= 0
        rows.append(np.flatnonzero(ok)), cols.append(j[ok]), vals.append(-np.ones(ok.sum()))
        rhs[~ok] += values[ys[~ok] + dy, xs[~ok] + dx]
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(ys),) * 2)
    exact = spla.spsolve(a, rhs)
    err = np.abs(filled[ys, xs] - exact)
    assert np.array_equal(filled[edge], values[edge])
    assert err.mean() < 0.5 and err.max() < 2.5  # values span about 60 levels


@pytest.mark.parametrize("name", BLENDERS.names())
def test_empty_mask_returns_the_frame(scene, name) -> None:
    face, frame, _ = scene
    assert np.array_equal(blend(name, face, frame, np.zeros(frame.shape[:2], np.uint8), 8.0), frame)


def test_bad_inputs_are_refused(scene) -> None:
    face, frame, mask = scene
    with pytest.raises(ValueError, match="one size"):
        blend("poisson", face[:-1], frame, mask, 4.0)
    with pytest.raises(ValueError, match="uint8"):
        blend("poisson", face.astype(np.float32), frame.astype(np.float32), mask, 4.0)
