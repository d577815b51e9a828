"""Building blocks of the swap models: strided conv, PixelShuffle upscale, residual block, FLOP count.

The classic deepfake design (deepfakes/faceswap "original"): 5x5 stride-2 convolutions with
LeakyReLU(0.1) down, then ``upscale(f)`` = 3x3 conv to ``4 f`` channels + LeakyReLU(0.1) +
PixelShuffle(2) up. PixelShuffle (sub-pixel convolution, Shi et al. 2016) is kept on purpose:
replaced by transposed convolutions or resizes, the network learns to auto-encode and the swap
fails.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from masque.models.gemm import Conv2d

LEAK = 0.1


class Conv(nn.Sequential):
    """5x5 stride-2 convolution + LeakyReLU(0.1): halves height and width."""

    def __init__(self, cin: int, cout: int, kernel: int = 5, stride: int = 2) -> None:
        super().__init__(Conv2d(cin, cout, kernel, stride, padding=kernel // 2),
                         nn.LeakyReLU(LEAK, inplace=True))


class Upscale(nn.Sequential):
    """``upscale(f)``: 3x3 conv to ``4 f`` channels, LeakyReLU(0.1), PixelShuffle(2) -> ``f`` channels."""

    def __init__(self, cin: int, filters: int) -> None:
        super().__init__(Conv2d(cin, filters * 4, 3, padding=1), nn.LeakyReLU(LEAK, inplace=True),
                         nn.PixelShuffle(2))


class ResBlock(nn.Module):
    """Two 3x3 convs with a skip connection (faceswap's ``ResidualBlock``, used by ``hires``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = Conv2d(channels, channels, 3, padding=1)
        self.conv2 = Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.conv2(self.act(self.conv1(x))))


def count_flops(module: nn.Module, run: Callable[[], object]) -> int:
    """Forward FLOPs of the convs and linears of ``module`` while ``run()`` runs: 2 per multiply-add.

    Call it with a batch of one to get FLOPs per example.

    Activations, PixelShuffle and additions are not counted (they are < 1 % of the total).
    """
    total = 0

    def hook(mod: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total += 2 * per_out * output[0].numel()
        elif isinstance(mod, nn.Linear):
            total += 2 * mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return total
