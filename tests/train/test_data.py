"""Training data on real face sets: crop geometry, augmentation, colour shift, background batches."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from masque.errors import ConfigError
from masque.face.align import alignment_matrix, transform_points
from masque.faceset import FaceSet
from masque.faceset.coverage import EYES, MOUTH, measure
from masque.media import read_image
from masque.train.data import (
    AugmentConfig,
    BatchStream,
    base_matrix,
    batch_loader,
    expression_weights,
    load_pool,
    make_batch,
    mean_color,
    preview_batch,
    stored_size,
)
from masque.train.trainer import TrainConfig

SIZE, COVERAGE = 64, 0.875
NO_AUGMENT = AugmentConfig(rotate=0, zoom=0, shift=0, flip=0, warp=0, lightness=0, ab=0)


@pytest.fixture(scope="module")
def pools(facesets):
    return tuple(load_pool(p, SIZE, COVERAGE) for p in facesets)


def _crop_to_model() -> np.ndarray:
    """``(3, 3)``: 256 px face-set crop pixels -> model input pixels, as the trainer samples them."""
    res = stored_size(SIZE, COVERAGE)
    to_stored = np.array([[res / 256, 0, 0.5 * res / 256 - 0.5], [0, res / 256, 0.5 * res / 256 - 0.5], [0, 0, 1]])
    return base_matrix(res, SIZE, COVERAGE) @ to_stored


def test_model_input_is_the_alignment_convert_uses(facesets, pools) -> None:
    """Training crops = ``alignment_matrix(landmarks, SIZE, "face", COVERAGE)`` on the source frame."""
    with FaceSet(facesets[1]) as fs:
        rec = next(iter(fs.faces("faces.id")))
        crop = read_image(fs.image_path(rec))
    ours = _crop_to_model()
    assert np.allclose(alignment_matrix(rec.aligned_landmarks, SIZE, "face", COVERAGE), ours[:2], atol=1e-4)
    source_to_model = ours @ np.vstack([rec.matrix, [0, 0, 1]])
    assert np.allclose(alignment_matrix(rec.landmarks, SIZE, "face", COVERAGE), source_to_model[:2], atol=1e-4)
    # and the pixels agree with warping the 256 px crop directly (pre-blurred: it is a 3.5x reduction)
    direct = cv2.warpAffine(cv2.GaussianBlur(crop, (0, 0), 1.2), ours[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    got = preview_batch(pools[1], [0], SIZE, COVERAGE, np.zeros(3))[0]
    assert np.abs(got * 255 - direct).mean() < 4


def test_unaugmented_batch_is_the_preview_face_with_its_landmark_mask(pools) -> None:
    rng = np.random.default_rng(0)
    batch = make_batch(pools, 4, rng, SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), NO_AUGMENT)
    assert batch["warped"].shape == batch["target"].shape == (8, SIZE, SIZE, 3)
    assert batch["aux"].shape == (8, SIZE, SIZE, 2) and batch["warped"].dtype == np.float32
    # no warp: the input is the target (remap and warpAffine round coordinates to 1/32 px differently)
    assert np.abs(batch["warped"] - batch["target"]).mean() < 2e-3
    mask, weight = batch["aux"][..., 0], batch["aux"][..., 1]
    # the face fills the centre, the corners are outside the mask
    assert (mask[:, 28:36, 28:36] > 250).all() and (mask[:, :3, :3] < 5).all()
    assert set(np.unique(np.round(weight))) <= {1, 2, 3} and (weight.max(axis=(1, 2)) > 2.9).all()


def test_weights_sit_on_eyes_and_mouth(facesets, pools) -> None:
    with FaceSet(facesets[0]) as fs:
        rec = next(iter(fs.faces("faces.id")))
    lm = transform_points(rec.aligned_landmarks, _crop_to_model()[:2])
    rng = np.random.default_rng(0)
    pool = type(pools[0])(pools[0].images[:1], pools[0].aux[:1], pools[0].ids[:1], pools[0].path)
    weight = make_batch((pool, pool), 1, rng, SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), NO_AUGMENT)["aux"][0, ..., 1]
    eye = np.round(lm[36:42].mean(0)).astype(int)
    mouth = np.round(lm[[51, 57]].mean(0)).astype(int)
    cheek = np.round((lm[3] + lm[31]) / 2).astype(int)
    assert weight[eye[1], eye[0]] == pytest.approx(3, abs=0.01)
    assert weight[mouth[1], mouth[0]] == pytest.approx(2, abs=0.01)
    assert weight[cheek[1], cheek[0]] == pytest.approx(1, abs=0.01)


def test_augmentation_changes_input_and_target_differently(pools) -> None:
    rng = np.random.default_rng(1)
    batch = make_batch(pools, 8, rng, SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), AugmentConfig())
    diff = np.abs(batch["warped"] - batch["target"]).mean(axis=(1, 2, 3))
    assert (diff > 0.005).all(), "the input is warped"
    assert (diff < 0.15).all(), "but still the same face"
    plain = make_batch(pools, 8, np.random.default_rng(1), SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), NO_AUGMENT)
    assert np.abs(batch["target"] - plain["target"]).mean() > 0.02, "targets are rotated/zoomed/shifted/flipped"


def test_color_shift_moves_a_onto_b(pools) -> None:
    a, b = pools
    shift = mean_color(b) - mean_color(a)
    assert np.abs(shift).max() > 0.02, "the two fixture people differ in colour"
    rng = np.random.default_rng(0)
    n = 16
    batch = make_batch((a, a), n, rng, SIZE, COVERAGE, (shift, shift), NO_AUGMENT)
    ref = make_batch((b, b), n, np.random.default_rng(0), SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), NO_AUGMENT)

    def masked_mean(bt: dict) -> np.ndarray:
        m = bt["aux"][..., :1] / 255
        return (bt["target"] * m).sum((0, 1, 2)) / m.sum()

    before = np.abs(mean_color(a) - mean_color(b)).sum()
    after = np.abs(masked_mean(batch) - masked_mean(ref)).sum()
    assert after < 0.5 * before


def test_background_worker_batches_are_channels_last_views(pools) -> None:
    stream = BatchStream(pools, 4, SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), AugmentConfig(), seed=3)
    loader = batch_loader(stream, workers=1, prefetch=2)
    it = iter(loader)
    first, second = next(it), next(it)
    del it, loader
    x = first["warped"].permute(0, 3, 1, 2)
    assert x.shape == (8, 3, SIZE, SIZE) and x.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(first["warped"], second["warped"]), "every batch is new"


def test_balance_draws_rare_expressions_more_often(facesets) -> None:
    with FaceSet(facesets[0]) as fs:
        records = list(fs.faces("faces.id"))
    cells = [(EYES.index(m), MOUTH.index(m)) for m in map(measure, records)]
    assert expression_weights(records, 0.0) is None
    share = lambda w: {c: sum(p for c_, p in zip(cells, w) if c_ == c) for c in set(cells)}  # noqa: E731
    uniform = share(np.full(len(cells), 1 / len(cells)))
    assert len(uniform) >= 3 and min(uniform.values()) < 0.2, "the fixture woman blinks and talks: uneven cells"
    half, full = share(expression_weights(records, 0.5)), share(expression_weights(records, 1.0))
    assert np.allclose(list(full.values()), 1 / len(full)), "balance 1: every eye x mouth state alike"
    rarest = min(uniform, key=uniform.get)
    assert uniform[rarest] < half[rarest] < full[rarest]

    pool = load_pool(facesets[0], SIZE, COVERAGE, balance=1.0)
    assert pool.weights is not None and np.isclose(pool.weights.sum(), 1)
    rng = np.random.default_rng(0)
    faces = preview_batch(pool, range(len(pool)), SIZE, COVERAGE, np.zeros(3))
    drawn = [cells[i] for _ in range(40) for i in _drawn_faces(pool, faces, rng)]
    got = {c: drawn.count(c) / len(drawn) for c in full}
    assert abs(got[rarest] - full[rarest]) < 0.06, "make_batch draws by the pool's weights"
    with pytest.raises(ConfigError, match="balance"):
        TrainConfig(balance=1.5)


def _drawn_faces(pool, faces, rng) -> list[int]:
    """Indices of the A faces one batch drew (each target matched to its unaugmented face in ``faces``)."""
    batch = make_batch((pool, pool), 16, rng, SIZE, COVERAGE, (np.zeros(3), np.zeros(3)), NO_AUGMENT)
    err = np.abs(batch["target"][:16, None] - faces[None]).mean(axis=(2, 3, 4))
    return list(err.argmin(1))
