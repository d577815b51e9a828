"""The enhancer stage on the fixture face sets: it learns the person's detail, resumes, stops cleanly."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from masque.metrics.detail import laplacian_energy
from masque.models import MODELS, load_model, read_card
from masque.models.enhancer import ENHANCER_FILE, ENHANCER_OPTIMIZER_FILE, load_enhancer
from masque.models.io import MODEL_FILE
from masque.train.checkpoint import save_checkpoint
from masque.train.enhancer import AUGMENT_OFF, EnhancerConfig, EnhancerTrainer, detail_loss, roughen
from masque.train.enhancer_data import load_crops, make_pairs

# small and fast: the real-crop input only (the untrained base model's decoder draws noise)
FAST = dict(batch=4, width=16, blocks=1, up_width=8, real_mix=1.0, lr=2e-3, save_every=1000, preview_every=1000,
            log_every=5, workers=0, label_previews=False)


@pytest.fixture(scope="module")
def base(facesets, tmp_path_factory) -> Path:
    """A model folder as `masque train` leaves it (an untrained lightweight model, every 10th face held out)."""
    root = tmp_path_factory.mktemp("enh") / "model"
    torch.manual_seed(0)
    save_checkpoint(root, MODELS.create("lightweight"), None, {
        "model": "lightweight", "step": 7, "input_size": 64, "holdout_every": 10,
        "facesets": [str(p) for p in facesets], "align": {"centering": "face", "coverage": 0.875, "size": 64},
        "color_shift": {"a": [0.02, 0.0, -0.02], "b": [0.0, 0.0, 0.0]}})
    return root


@pytest.fixture(scope="module")
def trained(base, facesets):
    summary = EnhancerTrainer(*facesets, base, EnhancerConfig(steps=60, **FAST)).run()
    return base, summary


def _held_out(facesets, side: int) -> dict[str, np.ndarray]:
    """Unaugmented pairs of the held-out faces (every 10th) of one side."""
    pools = [load_crops(p, 64, 0.875, [0, 10, 20]) for p in facesets]
    pools = [pools[side], pools[side]]
    pairs = make_pairs((pools[0], pools[1]), 3, np.random.default_rng(0), 64, 4, 0.875, (np.zeros(3), np.zeros(3)),
                       AUGMENT_OFF)
    return {k: v[:3] for k, v in pairs.items()}  # the A half (both halves are the same side here)


def _half_energy(images: torch.Tensor) -> float:
    """Mean Laplacian energy of the grey images at half scale, inner half of the crop (the face)."""
    import cv2

    out = []
    for img in images.permute(0, 2, 3, 1).numpy():
        grey = cv2.cvtColor((img * 255).astype(np.float32), cv2.COLOR_RGB2GRAY)[64:192, 64:192]
        out.append(laplacian_energy(cv2.pyrDown(grey)))
    return float(np.mean(out))


def test_enhancer_learns_the_persons_detail_on_held_out_faces(trained, facesets) -> None:
    root, summary = trained
    assert summary.step == 60 and not summary.interrupted and not summary.resumed
    assert summary.history[-1][1] < summary.history[0][1]
    _, card = load_model(root)
    pair = load_enhancer(root, card)
    assert pair is not None and pair.step == 60 and pair.base_step == 7
    for side, name in enumerate("ab"):
        pairs = _held_out(facesets, side)
        x = torch.from_numpy(pairs["input"]).permute(0, 3, 1, 2)
        real = torch.from_numpy(pairs["target"]).permute(0, 3, 1, 2)
        out = pair.enhance(x, name)
        up = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        assert out.shape == (3, 3, 256, 256)
        # as close to the real 256 px face as the upsample it started from (a sharper face cannot be
        # much closer in L1: the texture it draws is not pixel-aligned with the real one), and with
        # more of the real face's half-scale detail (the scale evaluate's headline reads, past grain)
        assert (out - real).abs().mean() < 1.05 * (up - real).abs().mean()
        e_real, e_up, e_out = _half_energy(real), _half_energy(up), _half_energy(out)
        assert e_out > 1.15 * e_up and abs(e_out - e_real) < abs(e_up - e_real), (e_up, e_out, e_real)


def test_card_records_the_enhancer_and_the_base_model_is_untouched(trained) -> None:
    root, _ = trained
    card = read_card(root)
    assert card is not None and card.step == 7  # the swap model's own step
    assert card.enhancer["step"] == 60 and card.enhancer["base_step"] == 7
    assert card.enhancer["arch"] == {"input_size": 64, "scale": 4, "width": 16, "blocks": 1, "up_width": 8}
    assert (root / ENHANCER_OPTIMIZER_FILE).is_file() and any((root / "logs" / "enhancer").iterdir())
    preview = root / "previews" / "enhancer_0000060.png"
    assert preview.is_file()


def test_stage_writes_each_persons_detail_exemplars(trained) -> None:
    from masque.commands.model import model_info
    from masque.models.exemplars import load_exemplars

    root, _ = trained
    banks = load_exemplars(root)
    assert banks is not None and all(len(banks[s].band) >= 8 for s in "ab")
    assert banks["a"].band.shape[1:] == (256, 256) and np.abs(banks["a"].band).max() > 0.05
    info = model_info(root)["exemplars"]
    assert (info["a"], info["b"]) == (len(banks["a"].band), len(banks["b"].band)) and info["bytes"] > 0


def test_resume_continues_from_the_saved_step_and_keeps_the_model_frozen(trained, facesets, tmp_path) -> None:
    root = Path(shutil.copytree(trained[0], tmp_path / "m"))
    weights = hashlib.sha256((root / MODEL_FILE).read_bytes()).hexdigest()
    before = trained[1]
    after = EnhancerTrainer(*facesets, root, EnhancerConfig(steps=70, **FAST)).run()
    assert after.resumed and after.start_step == 60 and after.step == 70
    # Adam's moments and the weights came back: the loss goes on from where it was, not from the start
    assert after.history[0][1] < before.history[0][1]
    assert hashlib.sha256((root / MODEL_FILE).read_bytes()).hexdigest() == weights
    assert json.loads((root / "state.json").read_text())["enhancer"]["step"] == 70


def test_stop_request_saves_a_loadable_enhancer(base, facesets, tmp_path) -> None:
    root = Path(shutil.copytree(base, tmp_path / "m"))
    for name in (ENHANCER_FILE, ENHANCER_OPTIMIZER_FILE):
        (root / name).unlink(missing_ok=True)
    calls = iter(range(100))
    summary = EnhancerTrainer(*facesets, root, EnhancerConfig(steps=50, **FAST)).run(
        should_stop=lambda: next(calls) >= 3)
    assert summary.interrupted and summary.step == 3
    _, card = load_model(root)
    pair = load_enhancer(root, card)
    assert pair is not None and pair.step == 3


def test_base_training_keeps_the_enhancer_record(trained, facesets, tmp_path) -> None:
    from masque.train.trainer import TrainConfig, Trainer

    root = Path(shutil.copytree(trained[0], tmp_path / "m"))
    Trainer(*facesets, root, TrainConfig(model="lightweight", steps=8, batch=2, workers=0, save_every=1000,
                                         preview_every=1000, label_previews=False)).run()
    card = read_card(root)
    assert card is not None and card.step == 8 and card.enhancer["base_step"] == 7


def test_detail_loss_is_zero_for_the_target_and_grows_with_blur(facesets) -> None:
    pairs = _held_out(facesets, 0)
    real = torch.from_numpy(pairs["target"]).permute(0, 3, 1, 2)
    mask = torch.from_numpy(pairs["mask"]).permute(0, 3, 1, 2)
    blur1 = F.avg_pool2d(real, 3, 1, 1)
    blur2 = F.interpolate(F.avg_pool2d(real, 4), scale_factor=4, mode="bilinear", align_corners=False)
    losses = [float(detail_loss(x, real, mask)) for x in (real, blur1, blur2)]
    assert losses[0] < 1e-6 < losses[1] < losses[2]


def test_roughen_mottles_and_pixelates_a_share_of_the_inputs(facesets) -> None:
    x = torch.from_numpy(_held_out(facesets, 0)["input"]).permute(0, 3, 1, 2).repeat(40, 1, 1, 1)
    gen = torch.Generator().manual_seed(0)
    assert roughen(x, 0.0, 0.0, gen) is x
    out = roughen(x, 0.05, 0.0, gen)
    assert out.shape == x.shape and out.dtype == x.dtype and float(out.min()) >= 0 and float(out.max()) <= 1
    changed = (out - x).abs().flatten(1).amax(1) > 1e-6
    assert 0.35 < float(changed.float().mean()) < 0.65  # half the inputs, drawn per input
    noise = (out - x)[changed]
    # a grain of about 2 pixels, not per-pixel noise: neighbours move together (white noise: 0)
    lag1 = float((noise[..., 1:] * noise[..., :-1]).mean() / (noise * noise).mean())
    assert 0.3 < lag1 < 0.9
    assert 0.005 < float(noise.std()) < 0.05
    blocky = roughen(x, 0.0, 1.0, torch.Generator().manual_seed(1))
    moved = (blocky - x).abs().flatten(1).amax(1) > 1e-6
    within = (blocky - F.interpolate(F.avg_pool2d(blocky, 2), scale_factor=2, mode="nearest")).abs()
    before = (x - F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")).abs()
    assert float(within[moved].mean()) < 0.9 * float(before[moved].mean())  # pulled towards its 2x2 blocks
    assert torch.equal(blocky[~moved], x[~moved])


def test_training_inputs_are_roughened(base, facesets, tmp_path, monkeypatch) -> None:
    """Convert feeds the enhancer mottled swaps; trained on clean inputs only, it sharpened them into a grid."""
    import masque.train.enhancer as enhancer

    root = Path(shutil.copytree(base, tmp_path / "m"))
    for name in (ENHANCER_FILE, ENHANCER_OPTIMIZER_FILE):
        (root / name).unlink(missing_ok=True)
    seen: list[tuple[float, float, torch.Tensor, torch.Tensor]] = []

    def spy(x: torch.Tensor, noise: float, pixelate: float, gen: torch.Generator) -> torch.Tensor:
        out = roughen(x, noise, pixelate, gen)
        seen.append((noise, pixelate, x, out))
        return out

    monkeypatch.setattr(enhancer, "roughen", spy)
    EnhancerTrainer(*facesets, root, EnhancerConfig(steps=3, **FAST)).run()
    assert len(seen) == 3 and all(n == EnhancerConfig.noise > 0 and p == EnhancerConfig.pixelate > 0
                                  for n, p, _, _ in seen)
    assert any(not torch.equal(x, out) for _, _, x, out in seen)
    assert json.loads((root / "state.json").read_text())["enhancer"]["config"]["noise"] == EnhancerConfig.noise


def test_a_folder_without_a_model_is_refused(facesets, tmp_path) -> None:
    from masque.errors import ModelError

    with pytest.raises(ModelError, match="no trained model"):
        EnhancerTrainer(*facesets, tmp_path / "none", EnhancerConfig(steps=1))
