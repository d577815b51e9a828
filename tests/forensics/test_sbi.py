"""Self-made fakes: blends of a face with itself inside a face-shaped mask (SBI), and the face
warped by moved landmarks through a mesh (self-warped: what reenactment leaves without a blend)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.forensics.faces import FaceCrop, crops_in_image
from masque.forensics.sbi import blend_mask, common_augment, drive_landmarks, self_blend, self_warp
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


def test_driven_landmarks_move_the_inner_face_and_keep_the_jaw_ends(face: FaceCrop) -> None:
    lm = face.landmarks
    for seed in range(20):
        driven = drive_landmarks(lm, np.random.default_rng(seed))
        moved = np.linalg.norm(driven - lm, axis=1)
        assert moved.max() > 0.02 * np.ptp(lm[:, 0]), seed  # a visible edit, not a rounding
        assert moved.max() < 0.2 * np.ptp(lm[:, 0]), seed  # ...and a face still
        assert moved[[0, 16]].max() < 1e-4, seed  # the outline's ends (at the ears) never move


def test_a_self_warp_changes_only_where_its_mask_says_and_softens_what_moved(face: FaceCrop) -> None:
    img, lm = face.image, face.landmarks
    sharper = 0
    for seed in range(8):
        fake, mask = self_warp(img, lm, np.random.default_rng(seed))
        again, _ = self_warp(img, lm, np.random.default_rng(seed))
        assert np.array_equal(fake, again) and fake.shape == img.shape and fake.dtype == np.uint8
        assert mask.dtype == np.float32 and mask.min() >= 0 and mask.max() <= 1 and mask.max() > 0.5
        diff = np.abs(fake.astype(int) - img.astype(int)).max(2)
        assert diff[mask == 0].max() <= 1, seed  # untouched where nothing moved: no seam, no blend
        assert mask[:6, :6].max() == 0 and mask[-6:, -6:].max() == 0  # held still at the crop's corners
        moved = cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert diff[moved].mean() > 3 * max(diff[mask == 0].mean(), 0.1), seed
        # the evidence: bilinear resampling softens the moved pixels (less fine detail than the photo)
        lap = [np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[mask > 0.5].mean()
               for x in (img, fake)]
        sharper += lap[1] > lap[0]
    assert sharper <= 1


def test_batches_with_warp_share_one_are_all_self_warped(face: FaceCrop) -> None:
    images, labels, maps = make_batch([face], 8, np.random.default_rng(0), warp=1.0)
    assert labels.tolist() == [0] * 4 + [1] * 4
    assert float(maps[:4].max()) == 0.0 and all(float(m.max()) > 0.3 for m in maps[4:])
    assert not np.array_equal(images.numpy(), make_batch([face], 8, np.random.default_rng(0))[0].numpy())
