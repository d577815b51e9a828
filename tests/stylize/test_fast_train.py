"""Fast style training: Ctrl-C leaves a loadable model, the same call resumes at its step, previews and logs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from masque import cli
from masque.errors import ConfigError
from masque.media import read_image, write_image
from masque.models.vgg import load_vgg19
from masque.stylize import patterns
from masque.stylize.fast import CARD_FILE, FastStyler, NetSpec, load_style_model
from masque.stylize.fast_train import OPTIM_FILE, FastTrainConfig, FastTrainer
from masque.stylize.gatys import STYLE_LAYERS

TINY = FastTrainConfig(size=32, batch=1, steps=6, style_size=48, preview_every=2, save_every=2)
SPEC = NetSpec(width=4, blocks=1)


@pytest.fixture(scope="module")
def vgg():
    return load_vgg19("block5_relu1")


def test_ctrl_c_saves_a_loadable_model_and_the_same_call_resumes(photo, tmp_path, vgg, monkeypatch):
    face = photo("obama.jpg")[100:500, 200:600]
    style, root = patterns.mosaic(48, seed=2), tmp_path / "m"
    real = FastTrainer.train_step
    calls = {"n": 0}

    def ctrl_c_at_4(self):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # what the terminal's Ctrl-C raises in the training loop
        return real(self)

    monkeypatch.setattr(FastTrainer, "train_step", ctrl_c_at_4)
    first = FastTrainer(root, vgg, style, [face], TINY, SPEC)
    report = first.run()
    assert report.interrupted and report.steps == 3 and not report.resumed
    net, card = load_style_model(root)  # a complete model, though training stopped mid-way
    assert card["step"] == 3 and (root / OPTIM_FILE).is_file()
    x = face[:40, :40]
    assert np.array_equal(FastStyler(net).image(x), FastStyler(first.net).image(x))
    preview = read_image(root / "previews" / "step_0000002.png")
    assert preview.shape == (32, 64, 3)  # content | stylised
    assert any((root / "logs").iterdir())  # TensorBoard events

    monkeypatch.setattr(FastTrainer, "train_step", real)
    again = FastTrainer(root, vgg, style, [face], TINY, NetSpec(width=8, blocks=2))  # the card's network wins
    assert again.resumed and again.step == 3 and again.spec == SPEC
    for (name, p), q in zip(first.net.state_dict().items(), again.net.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert again.opt.state  # Adam's moments came back
    done = again.run()
    assert done.steps == 6 and done.steps_run == 3 and done.resumed and not done.interrupted
    assert json.loads((root / CARD_FILE).read_text())["step"] == 6
    with pytest.raises(ConfigError, match="another style image"):
        FastTrainer(root, vgg, patterns.brush_strokes(48, seed=1), [face], TINY, SPEC)


def test_style_train_command_resumes_and_extends(photo, tmp_path):
    face = photo("obama.jpg")[100:500, 200:600]
    (tmp_path / "faces").mkdir()
    write_image(tmp_path / "faces" / "a.png", face)
    write_image(tmp_path / "style.png", patterns.mosaic(48, seed=2))
    cmd = ["style", "train", str(tmp_path / "style.png"), "--content", str(tmp_path / "faces"), "-m",
           str(tmp_path / "m"), "--train-size", "64", "--batch", "1", "--width", "4", "--blocks", "1",
           "--preview-every", "2", "--save-every", "2"]
    assert cli.main([*cmd, "--train-steps", "2"]) == 0
    assert json.loads((tmp_path / "m" / CARD_FILE).read_text())["step"] == 2
    assert cli.main([*cmd, "--train-steps", "3"]) == 0
    card = json.loads((tmp_path / "m" / CARD_FILE).read_text())
    assert card["step"] == 3 and card["style_image"] == "style.png"
    assert sorted(p.name for p in (tmp_path / "m" / "previews").iterdir()) == ["step_0000002.png"]


def test_default_losses_stop_at_relu4_1_and_old_cards_keep_their_layers(photo, tmp_path, vgg):
    assert FastTrainConfig().style_layers[-1] == "block4_relu1" and FastTrainConfig().content_layer == "block2_relu2"
    face = photo("obama.jpg")[100:500, 200:600]
    style, root = patterns.mosaic(48, seed=2), tmp_path / "m"
    FastTrainer(root, vgg, style, [face], TINY, SPEC).save()
    card = json.loads((root / CARD_FILE).read_text())
    for key in ("style_layers", "content_layer"):
        del card["config"][key]  # a model trained before the layers were options
    (root / CARD_FILE).write_text(json.dumps(card))
    again = FastTrainer(root, vgg, style, [face], TINY, SPEC)
    assert again.config.style_layers == STYLE_LAYERS and again.config.content_layer == "block3_relu3"
    assert again.train_step()["style"] > 0
