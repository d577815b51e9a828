"""What the one-shot swap pastes, on real fixture faces: the source's own relief (its shading is not
replaced by the target's), no colour dragged in from the mask's edge, and no source fringe on the
forehead."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.compose.masks import swap_masks
from masque.face import identity_distance
from masque.face.landmarks import face_width
from masque.face.mask import mask_points
from masque.oneshot import OneShotSwapper, SwapConfig, swap


def _margin(analyzer, photo, source: str, target: str) -> float:
    """Identity distance of the swap to the source minus its distance to the target (< 0: the source's)."""
    src, tgt = photo(source), photo(target)
    out = OneShotSwapper.from_image(src, analyzer).swap(tgt, analyzer.detect(tgt)[:1])
    e = analyzer.analyze(out)[0].embedding
    return (identity_distance(e, analyzer.analyze(src)[0].embedding)
            - identity_distance(e, analyzer.analyze(tgt)[0].embedding))


def test_wide_shading_keeps_the_source_identity(analyzer, photo, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 4 % shading ratio the target's relief comes back and the result reads as the target
    (expression_di onto expression_su: +0.02); with the default 12 % it reads as the source."""
    wide = _margin(analyzer, photo, "expression_di.jpg", "expression_su.jpg")
    monkeypatch.setattr(swap, "SHADE_SIGMA", 0.04)
    narrow = _margin(analyzer, photo, "expression_di.jpg", "expression_su.jpg")
    assert wide < 0 < narrow, (wide, narrow)


def _cheeks(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The inner cheeks and nose: far from any edge of the paste mask."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks[[3, 31, 33, 35, 13, 29]]).astype(np.int32)), 1)
    return mask > 0


@pytest.mark.parametrize("blend, spread", [("gaussian", False), ("poisson", True)])
def test_edge_colour_does_not_spread_over_the_cheeks(analyzer, photo, blend, spread) -> None:
    """A saturated blue band round the target's face (a wall, a hood) along the paste mask's edge: a
    feathered blend leaves the cheeks' colour as it was; Poisson's membrane carries the blue inside."""
    target = photo("biden.jpg")
    face = analyzer.detect(target)[0]
    lm = face.landmarks
    band = np.zeros(target.shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(mask_points(lm, "extended")).astype(np.int32))
    cv2.polylines(band, [hull], True, 1, thickness=max(3, int(0.06 * face_width(lm))))
    blue = target.copy()
    blue[band > 0] = (30, 60, 200)
    swapper = OneShotSwapper.from_image(photo("obama.jpg"), analyzer, config=SwapConfig(blend=blend))
    cheeks = _cheeks(lm, target.shape[:2])

    def ab(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[cheeks][:, 1:].astype(np.float64).mean(0)

    shift = float(np.linalg.norm(ab(swapper.swap(blue, [face])) - ab(swapper.swap(target, [face]))))
    assert (shift > 2.0) if spread else (shift < 1.0), shift
    assert SwapConfig().blend == "gaussian"


def test_a_fringe_on_the_source_forehead_is_not_pasted(analyzer, photo) -> None:
    """The forehead is pasted only where the warped source is skin too: with hair-dark paint over
    the upper half of the source's forehead, that half stays the target's."""
    image = photo("obama.jpg")
    lm = analyzer.detect(image)[0].landmarks
    x0, y0 = np.maximum(np.floor(mask_points(lm, "extended").min(0)) - 4, 0).astype(int)
    x1, y1 = np.ceil(mask_points(lm, "extended").max(0) + 5).astype(int)
    roi = (int(x0), int(y0), int(x1), int(y1))
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    fringe = crop.copy()
    brow_top = int(lm[17:27, 1].min()) - y0
    top = int(mask_points(lm, "extended")[17:, 1].min()) - y0
    fringe[: (top + brow_top) // 2] = (35, 25, 20)  # dark brown hair
    plain, _ = swap_masks(lm, roi, crop, "extended")
    with_fringe, _ = swap_masks(lm, roi, crop, "extended", source=fringe)
    with_self, _ = swap_masks(lm, roi, crop, "extended", source=crop)
    upper = np.s_[: (top + brow_top) // 2]
    assert np.count_nonzero(plain[upper]) > 500
    assert np.count_nonzero(with_fringe[upper]) < 0.05 * np.count_nonzero(plain[upper])
    assert np.array_equal(with_self, plain)  # a source with a bare forehead keeps the whole mask
