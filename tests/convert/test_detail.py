"""Detail transfer: exemplar bands land on the frame face's features, follow its expression, and
only the person converted to lends them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from masque.convert.detail import ExemplarDetail
from masque.convert.pipeline import ConvertConfig, Converter
from masque.errors import ConfigError
from masque.face.align import transform_points
from masque.metrics.detail import detail_ratio
from masque.models import MODELS, CropSpec, ModelCard
from masque.models.enhancer import EnhancerArch, EnhancerPair
from masque.models.exemplars import DetailBank

CARD = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64))
ARCH = EnhancerArch(input_size=64, scale=4, width=8, blocks=1, up_width=4)


def _mean_face(size: int = 256) -> np.ndarray:
    """``(68, 2)`` landmarks of a frontal face filling a ``size`` crop (from a real face's alignment)."""
    from masque.assets import fetch
    from masque.face import FaceAnalyzer
    from masque.face.align import alignment_matrix
    from masque.media import read_image

    image = read_image(fetch("single_face.jpg"))
    lm = FaceAnalyzer().detect(image)[0].landmarks
    return transform_points(lm, alignment_matrix(lm, size, "face", 1.0)).astype(np.float32)


@pytest.fixture(scope="module")
def face_lm() -> np.ndarray:
    return _mean_face()


def _dot_band(lm: np.ndarray, point: int, size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    x, y = lm[point]
    return (0.3 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0 ** 2))).astype(np.float32)


def test_the_band_lands_on_the_frame_faces_landmarks(face_lm) -> None:
    bank = DetailBank(_dot_band(face_lm, 30)[None], face_lm[None])  # a dot on the nose tip
    detail = ExemplarDetail(bank, k=1)
    # the frame's face sits elsewhere in the crop, smaller and turned a little
    a = np.deg2rad(8)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * 0.8
    target = (face_lm - 128) @ rot.T + (128 + 12, 128 - 7)
    band, (x0, y0) = detail.band(target, 256)
    y, x = np.unravel_index(np.argmax(band), band.shape)
    x, y = x + x0, y + y0
    assert np.hypot(x - target[30, 0], y - target[30, 1]) < 1.5
    assert band.max() > 0.15  # the dot arrives, not smeared away


def _expression(lm: np.ndarray, mouth: float) -> np.ndarray:
    out = lm.copy()
    out[[56, 57, 58, 65, 66, 67], 1] += mouth  # lower lip down: the mouth opens by ``mouth`` px
    return out


def test_nearest_expression_leads_and_weights_carry_over_per_face(face_lm) -> None:
    shapes = [_expression(face_lm, m) for m in (0, 12, 24)]
    bank = DetailBank(np.zeros((3, 256, 256), np.float32), np.stack(shapes))
    detail = ExemplarDetail(bank, k=2, carry=0.5)
    for j, lm in enumerate(shapes):
        idx, w = detail.weights(lm * 0.9 + 10)  # position and size do not matter
        assert idx[0] == j and w[0] > w[1] and abs(w.sum() - 1) < 1e-6
    # on a tracked face the wide-open exemplar fades in over frames rather than popping
    detail.weights(shapes[0], track=7)
    idx, w = detail.weights(shapes[2], track=7)
    first = dict(zip(idx.tolist(), w.tolist()))
    assert 0 in first and first[2] < 0.9
    idx, w = detail.weights(shapes[2], track=7)
    assert dict(zip(idx.tolist(), w.tolist()))[2] > first[2]
    detail.retain([])  # the face is lost: the next one starts afresh
    idx, w = detail.weights(shapes[2], track=7)
    assert idx[0] == 2 and 0 not in idx.tolist()
    with pytest.raises(ConfigError):
        ExemplarDetail(bank, gain=-1)


def test_gain_zero_changes_nothing(face_lm) -> None:
    bank = DetailBank(_dot_band(face_lm, 30)[None], face_lm[None])
    face = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert np.array_equal(ExemplarDetail(bank, gain=0).apply(face, face_lm), face)
    assert not np.array_equal(ExemplarDetail(bank).apply(face, face_lm), face)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.create("lightweight")


def _textured_bank(face_lm: np.ndarray) -> DetailBank:
    """One exemplar: a 5 px-period texture over the face, none around it."""
    yy, xx = np.mgrid[:256, :256].astype(np.float32)
    from masque.face.mask import landmark_mask

    inside = landmark_mask(face_lm, (256, 256), "components").astype(np.float32) / 255
    band = 0.15 * np.sin(2 * np.pi * xx / 5) * np.sin(2 * np.pi * yy / 5) * inside
    return DetailBank(band[None].astype(np.float32), face_lm[None])


def test_convert_lays_the_converted_to_persons_detail_on_the_face_only(model, analyzer, photo, face_lm) -> None:
    frame = photo("single_face.jpg")
    cfg = ConvertConfig(smooth=0.0, mask="components", to="a")
    banks = {"a": _textured_bank(face_lm), "b": DetailBank(np.zeros((1, 256, 256), np.float32), face_lm[None])}
    pair = EnhancerPair(ARCH)
    plain = Converter(model, CARD, cfg, analyzer, enhancer=pair).convert_frames([frame])[0]
    to_a = Converter(model, CARD, cfg, analyzer, enhancer=pair, exemplars=banks).convert_frames([frame])[0]
    to_b = Converter(model, CARD, ConvertConfig(smooth=0.0, mask="components", to="b"), analyzer, enhancer=pair,
                     exemplars=banks)
    off = Converter(model, CARD, ConvertConfig(smooth=0.0, mask="components", to="a", detail_transfer=0), analyzer,
                    enhancer=pair, exemplars=banks)
    assert to_b.detail is not None and off.detail is None
    # without an enhancer there is no face at the real size to lay detail on
    assert Converter(model, CARD, cfg, analyzer, exemplars=banks).detail is None
    box = tuple(float(v) for v in analyzer.detect(frame)[0].bbox)
    half = [detail_ratio(out, frame, box)[0] for out in (plain, to_a)]  # type: ignore[arg-type]
    assert half[1] > 2 * half[0], half
    changed = np.abs(to_a.astype(int) - plain).sum(-1) > 0
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    assert xs.min() > x0 - 0.3 * w and xs.max() < x1 + 0.3 * w and ys.min() > y0 - 0.5 * h and ys.max() < y1 + 0.3 * h
    # B's bank is flat: converting to B adds nothing to the enhanced face
    fresh_b = Converter(model, CARD, ConvertConfig(smooth=0.0, mask="components", to="b"), analyzer, enhancer=pair)
    assert np.array_equal(to_b.convert_frames([frame])[0], fresh_b.convert_frames([frame])[0])



def test_blending_keeps_the_exemplars_contrast(face_lm) -> None:
    from masque.face.mask import landmark_mask

    inside = landmark_mask(face_lm, (256, 256), "components").astype(np.float32) / 255
    texture = np.random.default_rng(0).normal(0, 0.05, (3, 256, 256)).astype(np.float32) * inside
    bank = DetailBank(texture + _dot_band(face_lm, 30), np.repeat(face_lm[None], 3, 0))  # three skins, one feature
    band, (x0, y0) = ExemplarDetail(bank, k=3).band(face_lm, 256)
    box = np.s_[y0:y0 + band.shape[0], x0:x0 + band.shape[1]]
    single = np.mean([np.square(b[box]).mean() for b in bank.band])
    plain = np.square(bank.band.mean(0)[box]).mean()
    # a plain average of three unrelated skins keeps about a third of their energy; the blend keeps it
    assert plain < 0.6 * single
    assert 0.85 * single < np.square(band).mean() < 1.15 * single


def test_a_face_at_the_crops_edge_still_converts(face_lm) -> None:
    bank = DetailBank(_dot_band(face_lm, 30)[None], face_lm[None])
    face = np.full((256, 256, 3), 120, np.uint8)
    off = face_lm + 400  # landmarks wholly outside the drawn face (a tracking glitch)
    out = ExemplarDetail(bank).apply(face, off)
    assert out.shape == face.shape and np.array_equal(out, face)
