"""Self-Blended Images: the fakes are blends of a face with itself, only inside a face-shaped mask."""

from __future__ import annotations

import numpy as np
import pytest

from masque.forensics.faces import FaceCrop, crops_in_image
from masque.forensics.sbi import blend_mask, common_augment, self_blend
from masque.forensics.train import make_batch


@pytest.fixture(scope="module")
def face(analyzer, photo) -> FaceCrop:
    """Obama's face aligned as the detector sees it, 128 px."""
    return crops_in_image(analyzer, photo("obama.jpg"), 128)[0]


def test_mask_covers_the_face_and_not_the_corners(face: FaceCrop) -> None:
    lm = face.landmarks
    for seed in range(20):
        m = blend_mask(lm, 128, np.random.default_rng(seed))
        assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
        nose = lm[30].astype(int)
        assert m[nose[1], nose[0]] >= 0.45, seed  # the blend always includes the nose (opacity >= 0.5)
        assert m[:8, :8].max() < 0.05 and m[-8:, -8:].max() < 0.05, seed


def test_a_fake_differs_from_its_face_inside_the_mask_and_repeats_with_its_seed(face: FaceCrop) -> None:
    img, lm = face.image, face.landmarks
    fake, mask = self_blend(img, lm, np.random.default_rng(3))
    again, _ = self_blend(img, lm, np.random.default_rng(3))
    assert np.array_equal(fake, again)
    diff = np.abs(fake.astype(int) - img.astype(int)).mean(2)
    assert diff[mask > 0.9 * mask.max()].mean() > diff[mask < 0.01].mean()  # the source copy shows inside


def test_batches_are_half_real_with_empty_maps_and_half_fake(face: FaceCrop) -> None:
    images, labels, maps = make_batch([face], 8, np.random.default_rng(0))
    assert images.shape == (8, 3, 128, 128) and labels.tolist() == [0] * 4 + [1] * 4
    assert maps.shape == (8, 16, 16)
    assert float(maps[:4].max()) == 0.0 and all(float(m.max()) > 0.3 for m in maps[4:])
    assert common_augment(face.image, np.random.default_rng(1)).shape == face.image.shape
