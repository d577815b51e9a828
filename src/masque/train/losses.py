"""Training losses: L1 + DSSIM on the masked face, weighted by facial region, plus the mask loss.

As faceswap's "penalize mask loss": prediction and target are multiplied by the landmark mask
before the comparison, so the decoder spends its capacity on the face and not the background.
A per-pixel weight map counts the eyes three times and the mouth twice (the regions a viewer
checks first). All losses are computed in float32 whatever the autocast precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms.

    Attributes:
        l1: weight of the weighted mean absolute error on the masked face.
        dssim: weight of the weighted structural dissimilarity ``(1 - SSIM) / 2`` on the masked face.
        mask: weight of the mean absolute error between the predicted and the landmark mask.
        regions: use the eyes x3 / mouth x2 weight map (``False``: every face pixel counts once).
        background: how much the pixels outside the landmark mask count in L1 and DSSIM, relative
            to the face (0: only the face is learnt, faceswap's "penalize mask loss").
    """

    l1: float = 1.0
    dssim: float = 1.0
    mask: float = 1.0
    regions: bool = True
    background: float = 0.0


def _gaussian_window(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004) of ``(N, C, H, W)`` images in [0, 1]; same shape.

    Gaussian window ``window`` x ``window`` (sigma 1.5), K1 = 0.01, K2 = 0.03, reflect padding.
    """
    c = a.shape[1]
    g = _gaussian_window(window, sigma, a.device)
    kx = g.view(1, 1, 1, -1).repeat(5 * c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(5 * c, 1, 1, 1)
    pad = window // 2
    # the five local statistics in one separable, grouped blur
    x = F.pad(torch.cat([a, b, a * a, b * b, a * b], dim=1), (pad, pad, pad, pad), mode="reflect")
    mu_a, mu_b, aa, bb, ab = F.conv2d(F.conv2d(x, kx, groups=5 * c), ky, groups=5 * c).split(c, dim=1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``(N, C, H, W)`` values under an ``(N, 1, H, W)`` weight map."""
    return (values * weight).sum() / (weight.sum() * values.shape[1]).clamp_min(1e-8)


def face_loss(rgb: torch.Tensor, mask_pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
              weight: torch.Tensor, config: LossConfig) -> dict[str, torch.Tensor]:
    """The loss of one side.

    Args:
        rgb: ``(N, 3, S, S)`` predicted face in [0, 1].
        mask_pred: ``(N, 1, S, S)`` predicted mask in [0, 1].
        target: ``(N, 3, S, S)`` unwarped face in [0, 1].
        mask: ``(N, 1, S, S)`` landmark mask in [0, 1].
        weight: ``(N, 1, S, S)`` region weights (1 face, 2 mouth, 3 eyes).

    Returns:
        ``{"total", "l1", "dssim", "mask"}`` scalars (float32, ``total`` differentiable).
    """
    rgb, mask_pred = rgb.float(), mask_pred.float()
    w = weight if config.regions else torch.ones_like(weight)
    if config.background > 0:  # whole images compared; outside the mask each pixel counts ``background``
        pred_m, target_m, w = rgb, target, w * (mask + config.background * (1 - mask))
    else:  # only the face: both sides masked, so the background is never compared
        pred_m, target_m = rgb * mask, target * mask
    l1 = _weighted_mean((pred_m - target_m).abs(), w)
    dssim = _weighted_mean((1 - ssim_map(pred_m, target_m)) / 2, w)
    mask_l1 = (mask_pred - mask).abs().mean()
    total = config.l1 * l1 + config.dssim * dssim + config.mask * mask_l1
    return {"total": total, "l1": l1.detach(), "dssim": dssim.detach(), "mask": mask_l1.detach()}
