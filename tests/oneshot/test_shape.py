"""The source's feature placement inside the target's outline, with the target's expression."""

from __future__ import annotations

import numpy as np
import pytest

from masque.errors import ConfigError
from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.oneshot import OneShotSwapper, SwapConfig, swap_image
from masque.oneshot.shape import identity_landmarks


@pytest.fixture(scope="module")
def faces(photo, analyzer) -> dict[str, np.ndarray]:
    return {n: analyzer.detect(photo(f"{n}.jpg"))[0].landmarks for n in ("obama", "expression_su", "expression_anc")}


def proportions(lm: np.ndarray) -> np.ndarray:
    """Eye-centre-to-mouth-centre distance and mouth width, over the eye spacing (scale-free)."""
    eyes = np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0))
    return np.array([np.linalg.norm((lm[36:48].mean(0)) - lm[48:68].mean(0)), np.linalg.norm(lm[54] - lm[48])]) / eyes


def test_features_take_the_source_s_placement_and_keep_the_target_s_expression(faces) -> None:
    src, tgt = faces["obama"], faces["expression_su"]  # both facing the camera; a smile onto a wide-open mouth
    out = identity_landmarks(src, tgt)
    before, after = np.abs(proportions(tgt) - proportions(src)), np.abs(proportions(out) - proportions(src))
    assert (after < 0.25 * before).all(), (proportions(src), proportions(tgt), proportions(out))
    assert np.array_equal(out[:17], tgt[:17])  # the jaw outline (and the background) stays
    assert mouth_openness(out) == pytest.approx(mouth_openness(tgt), rel=0.02)  # still wide open
    assert eye_aspect_ratio(out) == pytest.approx(eye_aspect_ratio(tgt), rel=0.02)
    assert np.array_equal(identity_landmarks(src, tgt, strength=0.0), tgt)


def test_kept_target_eyes_stay_in_place(faces) -> None:
    out = identity_landmarks(faces["expression_anc"], faces["expression_su"], eyes=0.0)
    assert np.array_equal(out[17:27], faces["expression_su"][17:27])  # brows
    assert np.array_equal(out[36:48], faces["expression_su"][36:48])


def test_a_swap_with_the_source_s_proportions_looks_more_like_the_source(photo, analyzer, faces) -> None:
    src_img, tgt_img = photo("expression_anc.jpg"), photo("expression_su.jpg")
    ref = {k: analyzer.embed(img, analyzer.detect(img)[:1])[0].embedding for k, img in (("s", src_img), ("t", tgt_img))}
    margin = {}
    for shape in (0.0, 1.0):
        out, _ = swap_image(OneShotSwapper.from_image(src_img, analyzer, config=SwapConfig(shape=shape)), tgt_img,
                            analyzer)
        e = analyzer.embed(out, analyzer.detect(out)[:1])[0].embedding
        margin[shape] = float(np.linalg.norm(e - ref["s"]) - np.linalg.norm(e - ref["t"]))
    assert margin[1.0] < margin[0.0] - 0.01


def test_shape_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="shape"):
        SwapConfig(shape=1.5)
