"""Score calibration: Platt scaling on self-blended validation faces, the threshold, the validation split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from masque.forensics.calibrate import REAL_QUANTILE, calibrate, calibrated, fit_platt, split_validation
from masque.forensics.faces import FaceCrop
from masque.forensics.net import DetectorCard


def _crop(source: str, frame: int) -> FaceCrop:
    return FaceCrop(np.zeros((8, 8, 3), np.uint8), np.zeros((68, 2), np.float32), np.eye(2, 3), source, frame, 0,
                    (0.0, 0.0, 1.0, 1.0))


def test_platt_scaling_moves_overlapping_raw_scores_onto_both_sides_of_one_half() -> None:
    # the uncalibrated detector's trouble: reals and fakes both sit near 0.45-0.5, ranked but not placed
    rng = np.random.default_rng(0)
    real = np.clip(rng.normal(0.42, 0.03, 400), 0, 1)
    fake = np.clip(rng.normal(0.52, 0.03, 400), 0, 1)
    assert np.mean(real < 0.5) > 0.9 and np.mean(fake >= 0.5) < 0.8  # at 0.5 raw, fakes mostly pass as real
    a, b = fit_platt(real, fake)
    r, f = calibrated(real, a, b), calibrated(fake, a, b)
    assert a > 1  # steeper than the raw scores
    assert np.mean(r < 0.5) > 0.85 and np.mean(f >= 0.5) > 0.85
    assert np.all(np.diff(calibrated(np.linspace(0.3, 0.7, 50), a, b)) > 0)  # ranks (so AUC) unchanged
    assert np.all(np.diff(calibrated(np.linspace(0.0, 1.0, 50), a, b)) >= 0)
    assert calibrated(np.array([0.0, 1.0]), a, b).dtype == np.float32


def test_separable_scores_keep_a_finite_slope() -> None:
    a, b = fit_platt(np.array([0.1, 0.2]), np.array([0.8, 0.9]))
    assert np.isfinite(a) and np.isfinite(b) and a > 0


def test_validation_is_the_tail_of_each_video_and_photos_stay_in_training() -> None:
    crops = [_crop("clip.mp4", i) for i in range(40)] + [_crop("photo.jpg", 0), _crop("photo.jpg", 0)]
    train, val = split_validation(crops, 0.25)
    assert [c.frame for c in val] == list(range(30, 40))
    assert max(c.frame for c in train if c.source == "clip.mp4") == 29
    assert sum(c.source == "photo.jpg" for c in train) == 2
    assert split_validation(crops, 0.0) == (crops, [])


def test_the_threshold_keeps_most_real_validation_faces_below_it(face: FaceCrop) -> None:
    # a stand-in scorer that sees a blend as a brightness change inside the face: raw scores overlap
    def score(images: list[np.ndarray]) -> np.ndarray:
        return np.array([0.4 + np.abs(im[40:90, 40:90].astype(float) - face.image[40:90, 40:90]).mean() / 200
                         for im in images])

    crops = [face] * 12
    (a, b), threshold, metrics = calibrate(score, crops, seed=3)
    assert threshold >= 0.5
    assert metrics["val_real_below"] >= REAL_QUANTILE - 1e-6
    assert metrics["val_sbi_auc"] > 0.7 and metrics["val_faces"] == 12
    card = DetectorCard(calibration=(a, b), threshold=threshold)
    assert DetectorCard.from_json(json.loads(json.dumps(card.to_json())), "x") == card


def test_a_card_without_calibration_reads_as_raw_scores() -> None:
    data = DetectorCard().to_json()
    del data["calibration"]
    assert DetectorCard.from_json(data, "old").calibration == (1.0, 0.0)


@pytest.fixture(scope="module")
def face(analyzer, photo) -> FaceCrop:
    from masque.forensics.faces import crops_in_image

    return crops_in_image(analyzer, photo("obama.jpg"), 128)[0]
