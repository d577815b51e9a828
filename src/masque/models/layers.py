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


def init_weights(conv: nn.Module, repeat: int = 1) -> None:
    """LeCun uniform weights (variance 1 / fan_in) for a conv or linear layer, zero bias.

    PyTorch's default (variance 1 / (3 fan_in)) shrinks the signal about 6x a layer through
    LeakyReLU: ten layers in, an untrained swap model's output varied across input faces by 5e-6,
    so training spent its first ~600 steps drawing the mean face whatever the input. LeCun's
    variance keeps the input's trace through the whole model from the first step; He's (twice
    it) trained as fast but left a young model's swaps covered in colour speckle. ``repeat`` > 1
    is ICNR (Aitken et al. 2017) for a conv feeding ``PixelShuffle``: each group of ``repeat``
    output channels starts equal, so the upscale starts as nearest-neighbour, not a checkerboard.
    """
    weight = conv.weight
    assert isinstance(weight, torch.Tensor)
    sub = torch.empty(weight.shape[0] // repeat, *weight.shape[1:])
    nn.init.kaiming_uniform_(sub, nonlinearity="linear")  # gain 1: variance 1 / fan_in
    with torch.no_grad():
        weight.copy_(sub.repeat_interleave(repeat, dim=0))
        bias = conv.bias
        if isinstance(bias, torch.Tensor):
            bias.zero_()


class Conv(nn.Sequential):
    """5x5 stride-2 convolution + LeakyReLU(0.1): halves height and width."""

    def __init__(self, cin: int, cout: int, kernel: int = 5, stride: int = 2) -> None:
        super().__init__(Conv2d(cin, cout, kernel, stride, padding=kernel // 2),
                         nn.LeakyReLU(LEAK, inplace=True))
        init_weights(self[0])


class Upscale(nn.Sequential):
    """``upscale(f)``: 3x3 conv to ``4 f`` channels, LeakyReLU(0.1), PixelShuffle(2) -> ``f`` channels."""

    def __init__(self, cin: int, filters: int) -> None:
        super().__init__(Conv2d(cin, filters * 4, 3, padding=1), nn.LeakyReLU(LEAK, inplace=True),
                         nn.PixelShuffle(2))
        init_weights(self[0], repeat=4)


class ResBlock(nn.Module):
    """Two 3x3 convs with a skip connection (faceswap's ``ResidualBlock``, used by ``hires``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = Conv2d(channels, channels, 3, padding=1)
        self.conv2 = Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        init_weights(self.conv1)
        # the residual branch starts at zero, so each block starts as the identity (its skip)
        nn.init.zeros_(self.conv2.weight)
        if self.conv2.bias is not None:
            nn.init.zeros_(self.conv2.bias)

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
