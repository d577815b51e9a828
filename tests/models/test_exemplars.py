"""The detail exemplars' file and band: round trip, refusals, what the band keeps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from masque.errors import ModelError
from masque.models.exemplars import (
    BAND_SCALE,
    EXEMPLARS_FILE,
    DetailBank,
    detail_band,
    exemplar_bytes,
    load_exemplars,
    shape_key,
)


def _bank(n: int, seed: int) -> DetailBank:
    rng = np.random.default_rng(seed)
    band = rng.normal(0, 0.1, (n, 32, 32)).astype(np.float32)
    return DetailBank(band, rng.uniform(0, 32, (n, 68, 2)).astype(np.float32))


def test_banks_round_trip_through_the_model_folder(tmp_path) -> None:
    banks = {"a": _bank(3, 0), "b": _bank(2, 1)}
    (tmp_path / EXEMPLARS_FILE).write_bytes(exemplar_bytes(banks, {"facesets": "[]"}))
    back = load_exemplars(tmp_path)
    assert back is not None and set(back) == {"a", "b"}
    for side, bank in banks.items():
        assert np.array_equal(back[side].landmarks, bank.landmarks)
        # stored as int8 steps of BAND_SCALE: within half a step (the +-0.5 range is not clipped here)
        assert np.abs(back[side].band - bank.band).max() <= BAND_SCALE / 2 + 1e-7
    assert load_exemplars(tmp_path / "elsewhere") is None  # a folder from before: no exemplars, no error


def test_a_foreign_or_damaged_file_is_refused(tmp_path) -> None:
    (tmp_path / EXEMPLARS_FILE).write_bytes(st_save({"x": torch.zeros(2)}, {"format": "other"}))
    with pytest.raises(ModelError, match="not a masque exemplar file"):
        load_exemplars(tmp_path)
    (tmp_path / EXEMPLARS_FILE).write_bytes(b"\x80\x04 a pickle, not safetensors")
    with pytest.raises(ModelError):
        load_exemplars(tmp_path)
    with pytest.raises(ModelError, match="N >= 1"):
        DetailBank(np.zeros((0, 8, 8), np.float32), np.zeros((0, 68, 2), np.float32))


def test_band_keeps_fine_detail_and_drops_lighting(photo) -> None:
    face = photo("obama.jpg")
    band = detail_band(face)
    # relative (log) detail: the same face at half the light has the same band
    darker = (face.astype(np.float32) * 0.5 + 0.5).astype(np.uint8)
    inner = np.s_[50:-50, 50:-50]
    assert np.abs(detail_band(darker) - band)[inner].mean() < 0.15 * np.abs(band[inner]).mean() + 0.002
    # no lighting: a smooth gradient over the picture leaves no band
    ramp = np.repeat(np.linspace(40, 220, 256, dtype=np.float32)[None, :], 256, 0)
    flat = np.repeat(ramp[..., None], 3, 2).astype(np.uint8)
    assert np.abs(detail_band(flat))[20:-20, 20:-20].max() < 0.01
    # fine detail survives, a blur as wide as the band's upper sigma removes most of it
    blurred = cv2.GaussianBlur(face, (0, 0), 6)
    assert np.abs(detail_band(blurred))[inner].mean() < 0.4 * np.abs(band[inner]).mean()


def test_shape_key_ignores_position_and_size() -> None:
    lm = np.random.default_rng(0).uniform(0, 100, (68, 2))
    assert np.allclose(shape_key(lm), shape_key(lm * 2.5 + 40), atol=1e-6)
    moved = lm.copy()
    moved[62:68, 1] += 10  # the lower lip drops: another expression
    assert np.linalg.norm(shape_key(moved) - shape_key(lm)) > 0.05


def test_a_safetensors_header_whose_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path) -> None:
    from masque.models.io import read_safetensors

    # grow the metadata until the 8-byte header length's low byte is 0x80, pickle's first opcode
    for pad in range(256):
        data = st_save({"x": torch.zeros(2)}, {"pad": "p" * pad})
        if data[0] == 0x80:
            break
    assert data[0] == 0x80 and data[8:9] == b"{"
    (tmp_path / "w.safetensors").write_bytes(data)
    tensors, meta = read_safetensors(tmp_path / "w.safetensors")
    assert torch.equal(tensors["x"], torch.zeros(2)) and meta["pad"] == "p" * pad
    (tmp_path / "p.safetensors").write_bytes(b"\x80\x04\x95" + bytes(20))  # a real pickle's start
    with pytest.raises(ModelError, match="pickle"):
        read_safetensors(tmp_path / "p.safetensors")
