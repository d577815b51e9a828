"""Losses: SSIM against the evaluation metric, masking, region weights, mask term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from masque.metrics.reconstruction import ssim as reference_ssim
from masque.train.losses import LossConfig, face_loss, ssim_map


def _faces(n: int = 2, s: int = 32) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    target = torch.rand(n, 3, s, s)
    mask = torch.zeros(n, 1, s, s)
    mask[..., 4:28, 4:28] = 1
    weight = torch.ones(n, 1, s, s)
    weight[..., 8:12, 8:12] = 3  # an "eye"
    return target, mask, weight


def test_ssim_map_matches_the_evaluation_ssim() -> None:
    torch.manual_seed(0)
    a = torch.rand(1, 3, 48, 48)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    ours = float(ssim_map(a, b)[..., 5:-5, 5:-5].mean())
    ref = reference_ssim(a[0].permute(1, 2, 0).numpy(), b[0].permute(1, 2, 0).numpy())
    assert ours == pytest.approx(ref, abs=1e-5)
    assert float(ssim_map(a, a).min()) == pytest.approx(1.0, abs=1e-4)


def test_perfect_prediction_costs_nothing_and_background_is_free() -> None:
    target, mask, weight = _faces()
    zero = face_loss(target, mask, target, mask, weight, LossConfig())
    assert float(zero["total"]) == pytest.approx(0.0, abs=1e-5)
    garbage_outside = target.clone()
    garbage_outside[..., :3, :] = 1 - garbage_outside[..., :3, :]  # rows outside the mask
    assert float(face_loss(garbage_outside, mask, target, mask, weight, LossConfig())["total"]) < 1e-5


def test_eye_errors_cost_three_times_cheek_errors() -> None:
    target, mask, weight = _faces()
    cfg = LossConfig(dssim=0, mask=0)
    eye, cheek = target.clone(), target.clone()
    eye[..., 8:12, 8:12] += 0.1
    cheek[..., 18:22, 18:22] += 0.1
    l_eye = float(face_loss(eye, mask, target, mask, weight, cfg)["l1"])
    l_cheek = float(face_loss(cheek, mask, target, mask, weight, cfg)["l1"])
    assert l_eye / l_cheek == pytest.approx(3.0, rel=1e-3)
    flat = LossConfig(dssim=0, mask=0, regions=False)
    assert float(face_loss(eye, mask, target, mask, weight, flat)["l1"]) == pytest.approx(
        float(face_loss(cheek, mask, target, mask, weight, flat)["l1"]), rel=1e-4)


def test_mask_term_and_gradients() -> None:
    target, mask, weight = _faces()
    rgb = torch.full_like(target, 0.5, requires_grad=True)
    mask_pred = torch.full_like(mask, 0.5, requires_grad=True)
    terms = face_loss(rgb.to(torch.bfloat16), mask_pred, target, mask, weight, LossConfig())
    assert float(terms["mask"]) == pytest.approx(0.5)
    assert terms["total"].dtype == torch.float32
    terms["total"].backward()
    assert rgb.grad is not None and float(rgb.grad.abs().sum()) > 0
    assert np.isfinite(float(terms["dssim"])) and float(mask_pred.grad.abs().sum()) > 0  # type: ignore[union-attr]


def test_background_weight_makes_the_background_count_at_that_share() -> None:
    target, mask, weight = _faces()
    garbage_outside = target.clone()
    garbage_outside[..., :3, :] = 1 - garbage_outside[..., :3, :]  # rows outside the mask
    flat = torch.ones_like(weight)
    half = face_loss(garbage_outside, mask, target, mask, flat, LossConfig(background=0.5))
    full = face_loss(garbage_outside, mask, target, mask, flat, LossConfig(background=1.0))
    assert float(half["l1"]) > 0.01  # the background is now learnt
    # L1 = sum(w |e|) / sum(w): the error's share halves and the total weight shrinks
    inside, outside = float(mask.sum()), float((1 - mask).sum())
    err = float((garbage_outside - target).abs().sum() / 3)
    assert float(full["l1"]) == pytest.approx(err / (inside + outside), rel=1e-4)
    assert float(half["l1"]) == pytest.approx(0.5 * err / (inside + 0.5 * outside), rel=1e-4)
    # a perfect background still costs nothing, whatever the weight
    assert float(face_loss(target, mask, target, mask, weight, LossConfig(background=0.5))["total"]) < 1e-5
