"""CycleGAN: network shapes, the image pool, the lr schedule, resuming after Ctrl-C, applying to faces."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
import torch

from masque.errors import ConfigError, ModelError
from masque.stylize import cyclegan
from masque.stylize.cyclegan import CycleConfig, CycleTrainer, ImagePool, Translator, load_translator

TINY = CycleConfig(size=32, ngf=4, ndf=4, blocks=1, steps=8, preview_every=4, save_every=4, hold_out=0.25)


def _sets() -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    dark = [np.clip(rng.normal(60, 10, (40, 40, 3)), 0, 255).astype(np.uint8) for _ in range(8)]
    light = [np.clip(rng.normal(190, 10, (40, 40, 3)), 0, 255).astype(np.uint8) for _ in range(8)]
    return dark, light


def test_shapes():
    g, d = cyclegan.Generator(4, 1), cyclegan.PatchDiscriminator(4)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert g(x).shape == x.shape and float(g(x).abs().max()) <= 1
    assert d(x).shape == (1, 1, 6, 6)  # 70x70 PatchGAN: one score per overlapping patch


def test_pool_returns_past_fakes_half_the_time():
    pool = ImagePool(4, random.Random(0))
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling up: the new ones
    out = torch.cat([pool.query(torch.full((1, 1, 1, 1), 100.0 + i)) for i in range(200)])
    assert 0.3 < float((out.view(-1) != 100 + torch.arange(200)).float().mean()) < 0.7


def test_lr_decays_linearly_over_the_second_half(tmp_path):
    a, b = _sets()
    t = CycleTrainer(tmp_path / "m", a, b, CycleConfig(size=32, ngf=4, ndf=4, blocks=1, steps=100))
    assert t.lr_at(0) == t.lr_at(50) == 2e-4
    assert t.lr_at(75) == pytest.approx(1e-4) and t.lr_at(100) == 0


def test_train_interrupt_resume_and_apply(tmp_path, monkeypatch):
    a, b = _sets()
    root = tmp_path / "m"
    t = CycleTrainer(root, a, b, TINY)
    assert len(t.split["a"][1]) == 2 and len(t.data["a"]) == 6  # a quarter held out
    calls = {"n": 0}
    real = CycleTrainer.train_step

    def ctrl_c_at_6(self):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(CycleTrainer, "train_step", ctrl_c_at_6)
    report = t.run()
    assert report.interrupted and report.step == 5
    assert (root / "translate.safetensors").is_file() and (root / "previews" / "step_0000004.png").is_file()
    assert any((root / "logs").iterdir())  # TensorBoard events
    monkeypatch.setattr(CycleTrainer, "train_step", real)
    again = CycleTrainer(root, a, b, CycleConfig(size=64))  # the card's config wins
    assert again.step == 5 and again.config == TINY
    for (n, p), q in zip(t.model.state_dict().items(), again.model.state_dict().values(), strict=True):
        assert torch.equal(p.cpu(), q.cpu()), n
    assert again.opts["g"].state  # Adam's moments came back
    done = again.run()
    assert done.step == 8 and not done.interrupted and done.steps_run == 3
    model, card = load_translator(root)
    assert card["step"] == 8
    out = Translator(model, card, "b").translate(a[0])
    assert out.shape == a[0].shape and out.dtype == np.uint8
    with pytest.raises(ModelError):
        Translator(model, card, "c")


@pytest.mark.slow
def test_translation_learns_the_direction(tmp_path):
    """Dark -> light after a short training: the colour flip is what separates the two sets."""
    torch.manual_seed(0)
    a, b = _sets()
    t = CycleTrainer(tmp_path / "m", a, b, CycleConfig(size=32, ngf=8, ndf=8, blocks=1, steps=60,
                                                       preview_every=1000, save_every=1000, lr=1e-3))
    t.run()
    model, card = load_translator(tmp_path / "m")
    to_b, to_a = Translator(model, card, "b"), Translator(model, card, "a")
    assert to_b.translate(a[0]).mean() > 130 > to_a.translate(b[0]).mean()


def test_new_models_upsample_by_resize_and_old_cards_keep_transposed_convs(tmp_path):
    a, b = _sets()
    assert CycleConfig().upsample == "resize"
    new = cyclegan.Generator(4, 1)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in new.modules())  # no checkerboard overlap
    root = tmp_path / "old"
    CycleTrainer(root, a, b, dataclasses.replace(TINY, upsample="transpose")).save()
    card = json.loads((root / "translate.json").read_text())
    del card["config"]["upsample"]  # as written before the option existed
    (root / "translate.json").write_text(json.dumps(card))
    model, _ = load_translator(root)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.g_ab.modules())
    assert CycleTrainer(root, a, b).config.upsample == "transpose"  # resumed as it was trained
    with pytest.raises(ConfigError, match="upsample"):
        CycleConfig(upsample="pixelshuffle")
