"""Convolution as one matrix product (im2col + GEMM), for CPU bf16 layers with small outputs.

oneDNN's bf16 convolution computes the weight gradient of layers with a 4x4 or 8x8 output (the
widest layers of these models: 512-2048 channels) at a third of the machine's bf16 GEMM rate;
written as ``cols @ W^T`` over channels_last patches, the same layer runs at the GEMM rate
(measured on AVX512-BF16: 1024->2048 3x3 at 4x4, batch 32, forward + backward 548 ms -> 205 ms).
The module's parameters and results are those of ``nn.Conv2d``; only the arithmetic path
differs, so a checkpoint does not know which path trained it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def _unfold_nhwc(x: torch.Tensor, k: int, s: int, p: int) -> tuple[torch.Tensor, int, int]:
    """``(N, H, W, C)`` -> patches ``(N*Ho*Wo, k*k*C)`` ordered (ky, kx, c)."""
    n, h, w, c = x.shape
    xp = F.pad(x, (0, 0, p, p, p, p))
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    sn, sh, sw, sc = xp.stride()
    cols = xp.as_strided((n, ho, wo, k, k, c), (sn, sh * s, sw * s, sh, sw, sc))
    return cols.reshape(n * ho * wo, k * k * c), ho, wo


def _fold_nhwc(cols: torch.Tensor, shape: torch.Size, k: int, s: int, p: int, ho: int, wo: int) -> torch.Tensor:
    """The adjoint of :func:`_unfold_nhwc`: sum patches back into ``(N, H, W, C)``."""
    n, h, w, c = shape
    out = cols.new_zeros(n, h + 2 * p, w + 2 * p, c)
    c6 = cols.view(n, ho, wo, k, k, c)
    for i in range(k):
        for j in range(k):
            out[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] += c6[:, :, :, i, j, :]
    return out[:, p:p + h, p:p + w, :]


class _GemmConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w2: torch.Tensor, bias: torch.Tensor | None,
                k: int, s: int, p: int) -> torch.Tensor:
        xn = x.permute(0, 2, 3, 1).contiguous()  # a view when x is channels_last
        cols, ho, wo = _unfold_nhwc(xn, k, s, p)
        y = torch.addmm(bias, cols, w2.t()) if bias is not None else cols @ w2.t()
        ctx.save_for_backward(cols, w2)
        ctx.meta = (xn.shape, k, s, p, ho, wo, bias is not None)
        return y  # (N*Ho*Wo, O); viewed as NCHW outside, so in-place ops after it stay legal

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        cols, w2 = ctx.saved_tensors
        shape, k, s, p, ho, wo, has_bias = ctx.meta
        g2 = grad.contiguous()
        gw = g2.t() @ cols if ctx.needs_input_grad[1] else None
        gb = g2.sum(0) if has_bias and ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            gx = _fold_nhwc(g2 @ w2, shape, k, s, p, ho, wo).permute(0, 3, 1, 2)
        return gx, gw, gb, None, None, None


def gemm_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int,
                padding: int, dtype: torch.dtype) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` computed in ``dtype`` as one GEMM.

    Args:
        x: ``(N, C, H, W)``, best channels_last (then no copy is made before the GEMM).
        weight: ``(O, C, k, k)``; square kernel, no dilation, no groups.

    Returns:
        ``(N, O, Ho, Wo)`` in ``dtype``, channels_last.
    """
    k = weight.shape[-1]
    w2 = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).to(dtype)
    b = bias.to(dtype) if bias is not None else None
    n, _, h, w = x.shape
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    y = _GemmConv.apply(x.to(dtype), w2, b, k, stride, padding)
    return y.view(n, ho, wo, -1).permute(0, 3, 1, 2)  # channels_last NCHW


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that runs as one GEMM when :attr:`gemm` is set and CPU bf16 autocast is on."""

    gemm: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.gemm and x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
                and torch.get_autocast_dtype("cpu") == torch.bfloat16):
            with torch.autocast("cpu", enabled=False):
                return gemm_conv2d(x, self.weight, self.bias, self.stride[0], int(self.padding[0]), torch.bfloat16)
        return super().forward(x)


def enable_gemm(model: nn.Module, example: torch.Tensor, max_pixels: int = 64, run: object = None) -> list[str]:
    """Set :attr:`Conv2d.gemm` on the convs of ``model`` whose output has at most ``max_pixels`` pixels.

    Args:
        model: the module; its output sizes are found by running ``run()`` (default ``model(example)``).
        example: an input of batch 1.

    Returns:
        The names of the convs switched to the GEMM path.
    """
    sizes: dict[str, int] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(mod: nn.Module, inputs: object, output: torch.Tensor) -> None:
        sizes[names[mod]] = int(output.shape[-1] * output.shape[-2])

    convs = [m for m in model.modules() if isinstance(m, Conv2d)]
    handles = [m.register_forward_hook(hook) for m in convs]
    try:
        with torch.no_grad():
            run() if callable(run) else model(example)
    finally:
        for h in handles:
            h.remove()
    chosen = []
    for m in convs:
        square = m.kernel_size[0] == m.kernel_size[1] and m.padding[0] == m.padding[1] and m.stride[0] == m.stride[1]
        plain = m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros"
        m.gemm = bool(square and plain and sizes.get(names[m], max_pixels + 1) <= max_pixels)
        if m.gemm:
            chosen.append(names[m])
    return chosen
