"""Recipes: perceptual, identity and adversarial terms on real faces; the recipe kept on resume."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from masque.models import read_card
from masque.models.io import STATE_FILE
from masque.train.data import load_pool, preview_batch
from masque.train.gan import ADVERSARY_FILE, Adversary
from masque.train.recipes import Schedule, lr_factor
from masque.train.trainer import TrainConfig, Trainer

TINY = dict(model="lightweight", batch=2, lr=2e-4, save_every=1000, preview_every=1000, log_every=1, workers=0,
            preview_faces=1, label_previews=False, threads=2, schedule=Schedule(warmup=4))


def _faces(path, n: int = 8) -> torch.Tensor:
    pool = load_pool(path, 64, 0.875)
    picks = np.linspace(0, len(pool) - 1, n).round().astype(int)
    return torch.from_numpy(preview_batch(pool, picks, 64, 0.875, np.zeros(3))).permute(0, 3, 1, 2)


def test_identity_loss_tells_the_two_people_apart(facesets):
    from masque.train.perceptual import IdentityLoss

    loss = IdentityLoss(0.875)
    a, b = _faces(facesets[0]), _faces(facesets[1])
    mean_a, mean_b = loss.mean_embedding(a), loss.mean_embedding(b)
    own = (loss.embed(a) - mean_a).norm(dim=1)
    other = (loss.embed(a) - mean_b).norm(dim=1)
    # dlib's threshold is 0.6: each of A's faces is near A's mean and far from B's
    assert own.max() < 0.5 and other.min() > 0.6, (own, other)
    x = a[:2].clone().requires_grad_(True)
    loss(x, mean_b).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable down to the pixels


def test_identity_term_holds_each_reconstruction_to_its_own_face(facesets):
    """Not the swaps: a swap has no real face to match, and dlib's network is fooled by patterns."""
    from masque.train.objective import RecipeTerms
    from masque.train.recipes import Recipe

    terms = RecipeTerms(Recipe("t", identity=1.0), 0.875, torch.device("cpu"), 1e-4, (0.5, 0.999))
    t = torch.cat([_faces(facesets[0], 2), _faces(facesets[1], 2)])
    ones, off = torch.ones(4, 1, 64, 64), torch.autocast("cpu", enabled=False)

    def run(rgb_a: torch.Tensor, rgb_b: torch.Tensor) -> dict[str, torch.Tensor]:
        return terms.generator([(rgb_a, ones[:2]), (rgb_b, ones[2:])], t, t, ones, ones, off)

    exact = run(t[:2], t[2:])
    assert exact["identity_a"] < 1e-4 and exact["identity_b"] < 1e-4
    # decoder A drawing B's faces is as far off as another person (dlib's 0.6 threshold)
    drawn = t[2:].clone().requires_grad_(True)
    wrong = run(drawn, t[2:])
    assert wrong["identity_a"] > 0.6 and wrong["identity_b"] < 1e-4
    wrong["extra"].backward()
    assert drawn.grad is not None and drawn.grad.abs().sum() > 0


def test_perceptual_loss_sees_lost_detail_not_brightness(facesets):
    from masque.train.perceptual import PerceptualLoss

    loss = PerceptualLoss()
    a = _faces(facesets[0], 4)
    blurred = torch.from_numpy(np.stack([cv2.GaussianBlur(f, (0, 0), 1.5) for f in a.permute(0, 2, 3, 1).numpy()]))
    blurred = blurred.permute(0, 3, 1, 2)
    assert loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    # instance normalisation: a global contrast change costs far less than blurring the face
    assert loss(blurred, a).item() > 3 * loss((a * 0.8 + 0.1), a).item()


def test_adversary_round_trips_through_safetensors(tmp_path):
    adv = Adversary(torch.device("cpu"), 1e-4, (0.5, 0.999))
    real, fake, cond = (torch.rand(2, 3, 64, 64) for _ in range(3))
    adv.step({"a": (real, fake, cond), "b": (real, fake, cond)}, 1e-4)
    adv.save(tmp_path, 7)
    assert (tmp_path / ADVERSARY_FILE).read_bytes()[8:9] == b"{"  # safetensors, not a pickle
    again = Adversary(torch.device("cpu"), 1e-4, (0.5, 0.999), seed=5)
    assert again.load(tmp_path)
    for (k, v), w in zip(adv.nets.state_dict().items(), again.nets.state_dict().values()):
        assert torch.equal(v, w), k
    assert len(again.opt.state) == len(adv.opt.state) > 0  # Adam's moments came back


def test_gan_recipe_trains_and_resumes_with_its_recipe(facesets, tmp_path):
    root = tmp_path / "model"
    first = Trainer(*facesets, root, TrainConfig(steps=3, recipe="gan", **TINY)).run()
    for term in ("perceptual", "identity", "adversarial", "edge", "mask_tv", "d"):
        assert f"{term}_a" in first.losses and f"{term}_b" in first.losses, first.losses
    assert all(np.isfinite(v) for v in first.losses.values())
    card = read_card(root)
    assert card is not None and card.recipe == "gan" and card.card_version == 2
    assert (root / ADVERSARY_FILE).is_file()
    saved = (root / ADVERSARY_FILE).read_bytes()
    # resumed without --recipe: the folder's recipe, and its discriminators, are kept
    again = Trainer(*facesets, root, TrainConfig(steps=4, **TINY))
    assert again.recipe.name == "gan"
    after = again.run()
    assert "adversarial_a" in after.losses and read_card(root).recipe == "gan"  # type: ignore[union-attr]
    assert (root / ADVERSARY_FILE).read_bytes() != saved  # trained on, from the saved state
    # asked for explicitly, another recipe wins
    assert Trainer(*facesets, root, TrainConfig(steps=5, recipe="classic", **TINY)).recipe.name == "classic"


def test_old_cards_resume_as_classic_and_the_schedule_warms_up(facesets, tmp_path):
    root = tmp_path / "model"
    infos = []
    Trainer(*facesets, root, TrainConfig(steps=4, **TINY)).run(on_step=infos.append)
    # linear warm-up over 4 steps from 0.1x, times a cosine decay over the run's 4 steps
    want = [lr_factor(TINY["schedule"], i, i / 4) for i in range(4)]  # type: ignore[arg-type]
    assert [i.lr / 2e-4 for i in infos] == pytest.approx(want)
    assert want[0] == pytest.approx(0.1) and want[1] == pytest.approx(0.325 * (0.2 + 0.4 * (1 + 0.5**0.5)))
    state = json.loads((root / STATE_FILE).read_text())
    assert state["recipe"] == "classic" and set(state["loss"]) == {f"{k}_{s}" for k in ("total", "l1", "dssim", "mask")
                                                                  for s in "ab"}
    del state["recipe"]  # a version-1 card, as masque wrote it before recipes
    state["card_version"] = 1
    (root / STATE_FILE).write_text(json.dumps(state))
    resumed = Trainer(*facesets, root, TrainConfig(steps=5, **TINY))
    assert resumed.recipe.name == "classic"
    resumed.run()
    assert read_card(root).card_version == 2 and read_card(root).recipe == "classic"  # type: ignore[union-attr]
