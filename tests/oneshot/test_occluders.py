"""What is in front of the target's face stays in front (glasses whole, not half erased), and the
colour match paints no blue patches over the eyes (multi_face.jpg's smiling faces, biden.jpg)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.face.landmarks import face_width
from masque.oneshot import OneShotSwapper, SwapConfig
from masque.oneshot.eyes import eye_weights


def draw_glasses(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with dark glasses rims (two frames, a bridge, temples) drawn from its landmarks,
    and the rims' boolean mask."""
    rims = np.zeros(image.shape[:2], np.uint8)
    left, right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    unit = float(np.linalg.norm(right - left))
    thick = max(2, round(0.07 * unit))
    for c in (left, right):
        cv2.ellipse(rims, tuple(np.round(c).astype(int)), (round(0.45 * unit), round(0.3 * unit)), 0, 0, 360,
                    255, thick, cv2.LINE_AA)
    cv2.line(rims, tuple(np.round(left + np.array([0.45 * unit, 0])).astype(int)),
             tuple(np.round(right - np.array([0.45 * unit, 0])).astype(int)), 255, thick, cv2.LINE_AA)
    for c, ear in ((left, landmarks[0]), (right, landmarks[16])):
        side = np.sign(ear[0] - c[0])
        hinge = np.round(c + np.array([side * 0.45 * unit, 0])).astype(int)
        cv2.line(rims, tuple(hinge), tuple(np.round(ear).astype(int)), 255, thick, cv2.LINE_AA)
    a = rims.astype(np.float32)[..., None] / 255
    worn = (image * (1 - a) + np.array([30, 22, 20], np.float32) * a + 0.5).astype(np.uint8)
    return worn, rims > 200


@pytest.mark.parametrize("target", ["biden.jpg", "expression_di.jpg"])
def test_glasses_on_the_target_survive_the_swap_whole(analyzer, photo, target) -> None:
    source = photo("obama.jpg")
    image = photo(target)
    face = analyzer.detect(image)[0]
    worn, rims = draw_glasses(image, face.landmarks)
    kept = {}
    for occluders in (True, False):
        swapper = OneShotSwapper(source, analyzer.detect(source)[0].landmarks, SwapConfig(occluders=occluders))
        out = swapper.swap(worn, [face.landmarks])
        kept[occluders] = (np.abs(out.astype(np.int16) - worn).max(2)[rims] <= 12).mean()
    assert kept[True] > 0.9, kept
    assert kept[False] < 0.7, kept  # without the occlusion model they are painted over


def _blue_share(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Share of the pixels around the eyes whose Lab b* is under -4 (blue)."""
    w = eye_weights(landmarks, (0, 0, image.shape[1], image.shape[0]), face_width(landmarks)) > 0.5
    b = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 2][w].astype(np.float32) - 128
    return float((b < -4).mean())


def test_no_blue_patches_over_the_eyes_of_smiling_faces(analyzer, photo) -> None:
    source, target = photo("biden.jpg"), photo("multi_face.jpg")
    swapper = OneShotSwapper(source, analyzer.detect(source)[0].landmarks, SwapConfig(occluders=False))
    faces = analyzer.detect(target)
    assert len(faces) >= 3
    # Reinhard scaled the source's a/b spread up to the freckled, flushed targets' and made 3-15 %
    # of these pixels blue (Biden's own: 0.4 %)
    shares = [_blue_share(swapper.swap(target, [f]), f.landmarks) for f in faces]
    assert max(shares) < 0.02, shares
