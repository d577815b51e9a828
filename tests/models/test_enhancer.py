"""The enhancer network and its file: an untrained one is a bilinear upsample; bad files are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save

from masque.errors import ModelError, ShapeError
from masque.models import MODELS, CropSpec, ModelCard, load_model
from masque.models.enhancer import ENHANCER_FILE, EnhancerArch, EnhancerPair, load_enhancer, scale_matrix
from masque.train.checkpoint import save_checkpoint

SMALL = EnhancerArch(input_size=64, scale=4, width=8, blocks=1, up_width=4)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("enh") / "m"
    save_checkpoint(root, MODELS.create("lightweight"), None, {
        "model": "lightweight", "step": 3, "input_size": 64, "align": {"centering": "face", "coverage": 0.875}})
    return root


def _write(root: Path, pair: EnhancerPair) -> None:
    (root / ENHANCER_FILE).write_bytes(st_save({k: v.contiguous() for k, v in pair.state_dict().items()},
                                               pair.metadata()))


@pytest.mark.parametrize("scale", [2, 4])
def test_untrained_enhancer_is_the_bilinear_upsample(scale) -> None:
    torch.manual_seed(0)
    pair = EnhancerPair(EnhancerArch(scale=scale, width=8, blocks=1, up_width=4))
    x = torch.rand(2, 3, 64, 64)
    out = pair.enhance(x, "a")
    assert out.shape == (2, 3, 64 * scale, 64 * scale)
    assert torch.allclose(out, F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False), atol=1e-6)
    with pytest.raises(ShapeError, match=r"\(N, 3, 64, 64\)"):
        pair.enhance(torch.rand(1, 3, 32, 32), "a")


def test_scale_matrix_puts_the_same_point_under_the_upsampled_pixel() -> None:
    m = np.array([[0.5, 0.1, 3.0], [-0.1, 0.5, 7.0]])
    p = np.array([40.0, 25.0, 1.0])
    small, big = m @ p, scale_matrix(m, 4) @ p
    assert np.allclose(big, 4 * small + 1.5)  # pixel centres: (p + 0.5) * 4 - 0.5


def test_folder_without_enhancer_loads_none(model_dir) -> None:
    _, card = load_model(model_dir)
    assert load_enhancer(model_dir, card) is None


def test_round_trip_keeps_weights_steps_and_architecture(model_dir, tmp_path) -> None:
    root = Path(shutil.copytree(model_dir, tmp_path / "m"))
    torch.manual_seed(1)
    pair = EnhancerPair(SMALL, step=12, base_step=3)
    for p in pair.parameters():
        p.data.normal_()
    _write(root, pair)
    _, card = load_model(root)
    back = load_enhancer(root, card)
    assert back is not None and back.arch == SMALL and (back.step, back.base_step) == (12, 3)
    x = torch.rand(1, 3, 64, 64)
    assert torch.equal(back.enhance(x, "b"), pair.enhance(x, "b"))


def test_enhancer_for_another_model_size_is_refused(model_dir, tmp_path) -> None:
    root = Path(shutil.copytree(model_dir, tmp_path / "m"))
    _write(root, EnhancerPair(EnhancerArch(input_size=128, width=8, blocks=1, up_width=4)))
    _, card = load_model(root)
    with pytest.raises(ModelError, match="128 px faces.*64 px faces.*another model"):
        load_enhancer(root, card)


@pytest.mark.parametrize("damage", ["garbage", "pickle", "not-an-enhancer", "bad-arch", "missing-tensor"])
def test_damaged_enhancer_file_is_one_clear_error(model_dir, tmp_path, damage) -> None:
    root = Path(shutil.copytree(model_dir, tmp_path / "m"))
    pair = EnhancerPair(SMALL)
    weights = {k: v.contiguous() for k, v in pair.state_dict().items()}
    path = root / ENHANCER_FILE
    if damage == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif damage == "pickle":
        torch.save(weights, path)
    elif damage == "not-an-enhancer":
        path.write_bytes(st_save(weights, {"format": "something-else"}))
    elif damage == "bad-arch":
        path.write_bytes(st_save(weights, {**pair.metadata(), "arch": json.dumps({"scale": 3})}))
    else:
        weights.pop(next(iter(weights)))
        path.write_bytes(st_save(weights, pair.metadata()))
    card = ModelCard("lightweight", 3, 64, CropSpec("face", 0.875, 64))
    with pytest.raises(ModelError, match="enhancer"):
        load_enhancer(root, card)


def test_card_without_enhancer_and_with_one_round_trips() -> None:
    base = {"format": "masque-swap-model", "model": "lightweight", "step": 3, "input_size": 64,
            "align": {"centering": "face", "coverage": 0.875, "size": 64}}
    old = ModelCard.from_json(base)
    assert old.enhancer == {} and "enhancer" not in old.to_json()
    new = ModelCard.from_json({**base, "enhancer": {"step": 5, "base_step": 3}})
    assert new.enhancer["step"] == 5 and ModelCard.from_json(new.to_json()) == new
    with pytest.raises(ModelError, match="'enhancer'"):
        ModelCard.from_json({**base, "enhancer": [1, 2]})


@pytest.mark.parametrize("scale", [2, 4])
def test_inference_path_is_the_training_function(scale) -> None:
    """Without gradients the enhancer takes its faster path (channels_last, in-place, OpenCV's
    upsample): the same function as the one training differentiates, to float rounding."""
    torch.manual_seed(0)
    net = EnhancerPair(EnhancerArch(scale=scale, width=8, blocks=2, up_width=4)).sides["b"]
    for p in net.parameters():  # trained-like weights: the residual is far from zero
        torch.nn.init.normal_(p, std=0.1)
    x = torch.rand(3, 3, 64, 64)
    trained = net(x).detach()
    with torch.no_grad():
        fast = net(x)
    assert fast.shape == (3, 3, 64 * scale, 64 * scale)
    assert float((trained - F.interpolate(x, scale_factor=scale, mode="bilinear")).abs().mean()) > 0.05
    assert torch.allclose(trained, fast, atol=1e-5)
