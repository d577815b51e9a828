"""Fast style: the transformer's shapes, a short training that lowers the style loss, the model folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from masque.errors import ConfigError, ModelError
from masque.models.vgg import load_vgg19
from masque.stylize import patterns
from masque.stylize.fast import (
    CARD_FILE,
    FastStyler,
    NetSpec,
    TransformNet,
    load_style_model,
    model_kind,
    save_style_model,
)
from masque.stylize.fast_train import FastTrainConfig, train_style_model


def test_any_size_in_same_size_out_in_unit_range():
    net = TransformNet(NetSpec(width=4, blocks=1)).eval()
    for h, w in ((33, 47), (64, 64)):
        with torch.no_grad():
            y = net(torch.rand(2, 3, h, w))
        assert y.shape == (2, 3, h, w) and float(y.min()) >= 0 and float(y.max()) <= 1
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules())


@pytest.mark.slow
def test_training_lowers_the_style_loss(photo):
    face = photo("obama.jpg")[100:500, 200:600]
    vgg = load_vgg19("block5_relu1")
    _, report = train_style_model(vgg, patterns.mosaic(96, seed=2), [face, face[:, ::-1].copy()],
                                  FastTrainConfig(size=48, batch=2, steps=80, lr=1e-2, style_size=96),
                                  NetSpec(width=8, blocks=1))
    assert report.steps == 80
    assert report.style_loss[1] < 0.7 * report.style_loss[0]


def test_a_short_training_writes_a_model_that_round_trips(photo, tmp_path):
    face = photo("obama.jpg")[100:500, 200:600]
    vgg = load_vgg19("block3_relu1")  # the content layer is deeper: the training asks for it
    with pytest.raises(ConfigError):
        train_style_model(vgg, patterns.mosaic(64, seed=2), [face], FastTrainConfig(size=32, batch=1, steps=1))
    vgg = load_vgg19("block5_relu1")
    net, report = train_style_model(vgg, patterns.mosaic(64, seed=2), [face],
                                    FastTrainConfig(size=32, batch=1, steps=2, style_size=64),
                                    NetSpec(width=4, blocks=1))
    assert report.steps == 2 and np.isfinite(report.style_loss).all()
    folder = save_style_model(tmp_path / "m", net, {"style_image": "mosaic"})
    assert model_kind(folder) == "style"
    assert (folder / "style.safetensors").read_bytes()[8:9] == b"{"  # safetensors, no pickle
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["kind"] == "fast-style" and card["net"] == {"width": 4, "blocks": 1, "kernel": 5}
    again, _ = load_style_model(folder)
    x = face[:64, :80]
    assert np.array_equal(FastStyler(net).image(x), FastStyler(again).image(x))
    out = FastStyler(again, size=50).image(face)
    assert out.shape == (50, 50, 3) and out.dtype == np.uint8


def test_other_kinds_of_folder_are_refused(tmp_path):
    (tmp_path / "swap").mkdir()
    (tmp_path / "swap" / "state.json").write_text("{}")
    (tmp_path / "tr").mkdir()
    (tmp_path / "tr" / "translate.json").write_text("{}")
    with pytest.raises(ModelError, match="face-swap model"):
        load_style_model(tmp_path / "swap")
    with pytest.raises(ModelError, match="translation model"):
        load_style_model(tmp_path / "tr")
    with pytest.raises(ModelError, match="not a masque style model"):
        load_style_model(tmp_path)


def test_apply_modes_agree():
    torch.manual_seed(0)
    net = TransformNet(NetSpec(width=4, blocks=1)).eval()
    frame = np.random.default_rng(0).integers(0, 256, (36, 64, 3), dtype=np.uint8)
    plain = FastStyler(net).image(frame).astype(int)
    assert np.abs(FastStyler(net, mode="channels_last").image(frame).astype(int) - plain).max() <= 1
    assert np.abs(FastStyler(net, mode="bf16").image(frame).astype(int) - plain).mean() < 3  # bf16: ~3 digits
    assert net.out[1].weight.is_contiguous()  # the caller's network keeps its layout
    with pytest.raises(ModelError, match="mode"):
        FastStyler(net, mode="fp8")


def test_video_frames_side_by_side_equal_one_at_a_time_and_torch_threads_come_back(tmp_path):
    from masque.media import VideoReader, VideoWriter
    from masque.provenance import LabelConfig, Labeler
    from masque.stylize.files import style_path

    torch.manual_seed(0)
    styler = FastStyler(TransformNet(NetSpec(width=4, blocks=1)).eval())
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (36, 48, 3), dtype=np.uint8) for _ in range(5)]
    threads = torch.get_num_threads()
    together = styler.frames(frames)
    assert torch.get_num_threads() == threads
    assert all(np.array_equal(a, styler.image(f)) for a, f in zip(together, frames, strict=True))
    calls: list[int] = []
    real = styler.frames
    styler.frames = lambda batch: calls.append(len(batch)) or real(batch)  # type: ignore[method-assign]
    clip = tmp_path / "in.mp4"
    with VideoWriter(clip, 10.0) as w:
        for f in frames:
            w.write(f)
    style_path(styler, clip, tmp_path / "out.mp4", Labeler(LabelConfig(enabled=False)))
    assert sum(calls) == 5 and max(calls) >= 2  # the video went through in batches
    assert sum(1 for _ in VideoReader(tmp_path / "out.mp4")) == 5
