"""The shipped occlusion model on people it never saw (biden.jpg, expression_di.jpg are held out of
its training), and how it fails on bad weights."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from masque.errors import ModelError
from masque.face.mask import landmark_mask
from masque.face.occluders import occlude
from masque.face.occlusion import WEIGHTS, OcclusionModel
from masque.media import read_image

#: mean IoU the shipped model must reach (it measured 0.63 on this test: 0.73 on biden.jpg, 0.52 on
#: expression_di.jpg)
IOU_FLOOR = 0.5


@pytest.fixture(scope="module")
def model() -> OcclusionModel:
    return OcclusionModel.load()


@pytest.fixture(scope="module")
def held_out(analyzer, fixture_path) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(frame, landmarks)`` of the two held-out people."""
    out = []
    for name in ("biden.jpg", "expression_di.jpg"):
        image = read_image(fixture_path(name))
        out.append((image, analyzer.detect(image)[0].landmarks))
    return out


def test_card_names_the_held_out_people_and_the_rebuild_command(model) -> None:
    assert {"clip_long", "biden", "expression_di"} <= set(model.card.held_out)
    assert not set(model.card.held_out) & set(model.card.train_people)
    assert "benchmarks/train_occlusion.py" in model.card.command
    assert WEIGHTS.stat().st_size < 3_000_000


def test_synthetic_occluders_on_held_out_faces_are_found(model, held_out, fixture_path) -> None:
    """Occluders of every kind the model trains on (hands in these faces' own skin, glasses, hair,
    a microphone, shapes and patches of a landscape), pasted with a seed of their own on two
    people the model never saw; IoU of the occluder inside the face (jaw-and-brows hull), over
    the cases that hide at least 5 % of it."""
    rng = np.random.default_rng(7)
    land = cv2.resize(read_image(fixture_path("no_face.jpg")), (256, 256), interpolation=cv2.INTER_AREA)
    ious = []
    for image, landmarks in held_out:
        crops, mats = model.align(image, [landmarks])
        lm = (landmarks @ mats[0][:, :2].T + mats[0][:, 2]).astype(np.float32)
        inner = landmark_mask(lm, crops.shape[1:3], "components") > 127
        found = 0
        while found < 15:
            occluded, label = occlude(crops[0], lm, rng, [land], [(crops[0], lm)])
            truth = (label < 0.5) & inner
            if truth.sum() < 0.05 * inner.sum():
                continue
            pred = (model.predict(occluded[None])[0] < model.card.threshold) & inner
            ious.append((pred & truth).sum() / (pred | truth).sum())
            found += 1
    assert np.mean(ious) > IOU_FLOOR, np.round(ious, 2)


def test_a_clear_face_is_visible_face(model, held_out) -> None:
    for image, landmarks in held_out:
        crops, mats = model.align(image, [landmarks])
        lm = (landmarks @ mats[0][:, :2].T + mats[0][:, 2]).astype(np.float32)
        core = cv2.erode(landmark_mask(lm, crops.shape[1:3], "components"), np.ones((9, 9), np.uint8)) > 0
        # measured 0.83 on expression_di.jpg (a shadowed cheek read as something in front), 0.998 on biden.jpg
        assert (model.predict(crops)[0][core] > model.card.threshold).mean() > 0.75


def test_masks_land_in_the_callers_crop(model, held_out) -> None:
    image, landmarks = held_out[1]
    x0, y0 = np.floor(landmarks.min(0)).astype(int) - 40
    w, h = np.ceil(np.ptp(landmarks, 0)).astype(int) + 80
    matrix = np.array([[1.0, 0, -x0], [0, 1.0, -y0]])  # a box of the frame around the face
    mask = model.masks(image, [landmarks], [matrix], (int(w), int(h)))[0]
    assert mask.shape == (h, w) and mask.dtype == np.float32
    nose = landmarks[30] - (x0, y0)
    assert mask[int(nose[1]), int(nose[0])] > 0.5  # the nose tip is visible face
    assert mask[2, 2] < 0.5  # the box's corner, off the face, is not


@pytest.mark.parametrize("damage", ["weights", "card"])
def test_corrupt_weights_or_card_are_one_clear_error(tmp_path, damage) -> None:
    weights = tmp_path / "occlusion.safetensors"
    shutil.copy(WEIGHTS, weights)
    shutil.copy(WEIGHTS.with_suffix(".json"), weights.with_suffix(".json"))
    target = weights if damage == "weights" else weights.with_suffix(".json")
    target.write_bytes(target.read_bytes()[: 200] + b"\x00garbage")
    with pytest.raises(ModelError, match="occlusion"):
        OcclusionModel.load(weights)
