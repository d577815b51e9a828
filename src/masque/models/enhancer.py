"""The per-person enhancer: a small super-resolution network that draws the decoder's face at the
real face size.

The swap model draws a 64 px face (``lightweight``, ``original``); pasted onto a face of 250 px
or more in the frame it is a soft blob. The enhancer takes the decoder's own output, ``(N, 3, S,
S)``, and returns ``(N, 3, kS, kS)`` (``k`` = :attr:`EnhancerArch.scale`, 2 or 4): a bilinear
upsample plus a learned residual. One enhancer per person (keys ``a`` and ``b``), trained on that
person's face set (``masque train --enhancer``, :mod:`masque.train.enhancer`) to turn the
decoder's reconstruction of the person's face into the real high-resolution crop, so the detail
it adds (skin, eyelids, brows, lip lines) is that person's.

Design for speed (it runs on every face of every frame in ``convert``): all convolutions but the
last run at the model's 64 px; a PixelShuffle brings them to 2x, a last 3x3 conv and PixelShuffle
to 4x. The default costs about 0.26 GFLOP a face (about 5 ms on one core of the 2-core CPU,
fp32, which measured faster here than bf16 autocast for layers this thin). The last conv starts
at zero, so an untrained enhancer is exactly a bilinear upsample.

A model folder stores both sides in ``enhancer.safetensors`` (keys ``a.*`` and ``b.*``; metadata:
architecture, steps, the swap model's step it was trained against) and its Adam moments in
``enhancer_optimizer.safetensors``; the model card records it under ``enhancer``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from masque.errors import ModelError, ShapeError
from masque.models.card import ModelCard
from masque.models.io import read_safetensors

__all__ = ["ENHANCER_FILE", "ENHANCER_FORMAT", "ENHANCER_OPTIMIZER_FILE", "Enhancer", "EnhancerArch",
           "EnhancerPair", "load_enhancer", "scale_matrix"]

ENHANCER_FILE = "enhancer.safetensors"
ENHANCER_OPTIMIZER_FILE = "enhancer_optimizer.safetensors"
#: the ``format`` of the enhancer file's metadata
ENHANCER_FORMAT = "masque-enhancer"
LEAK = 0.1


@dataclass(frozen=True)
class EnhancerArch:
    """Hyper-parameters of an :class:`Enhancer` (stored in the weights' metadata and the card).

    Attributes:
        input_size: side ``S`` of the decoder output it takes (the swap model's ``input_size``).
        scale: output side over input side, 2 or 4.
        width: channels of the convs at ``S``.
        blocks: residual 3x3 convs at ``S`` after the first conv.
        up_width: channels at ``2S`` (scale 4 only).
    """

    input_size: int = 64
    scale: int = 4
    width: int = 24
    blocks: int = 2
    up_width: int = 16

    def __post_init__(self) -> None:
        if self.scale not in (2, 4) or self.input_size < 16 or min(self.width, self.up_width, self.blocks + 1) < 1:
            raise ModelError(f"enhancer architecture must have scale 2 or 4, input_size >= 16 and positive widths; "
                             f"got {asdict(self)}: the enhancer file's metadata is damaged, train it again")

    @property
    def output_size(self) -> int:
        return self.input_size * self.scale

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object, source: str) -> EnhancerArch:
        """Parse :meth:`to_json`'s output; a missing or mistyped key is a :class:`ModelError`."""
        names = ("input_size", "scale", "width", "blocks", "up_width")
        if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in names):
            raise ModelError(f"{source}: the enhancer architecture must be an object of whole numbers {names}, "
                             f"got {data!r}; the file is damaged or not masque's: train it again "
                             "(`masque train --enhancer`)")
        return cls(**{k: int(data[k]) for k in names})


def scale_matrix(matrix: np.ndarray, scale: int) -> np.ndarray:
    """The ``(2, 3)`` ``float64`` matrix onto a ``scale``-times larger crop, given the one onto the model crop.

    Pixel centres scale about the pixel grid (``p_big = scale p + (scale - 1) / 2``), the
    convention of a bilinear upsample with ``align_corners=False``: the enhancer's output lines
    up with its input. Training (:mod:`masque.train.enhancer_data`) and convert both use it.
    """
    big = np.asarray(matrix, np.float64)[:2] * scale
    big[:, 2] += (scale - 1) / 2
    return big


class Enhancer(nn.Module):
    """One person's enhancer: ``(N, 3, S, S)`` -> ``(N, 3, kS, kS)``, RGB in [0, 1] (see the module docstring)."""

    def __init__(self, arch: EnhancerArch) -> None:
        super().__init__()
        self.arch = arch
        w, k = arch.width, arch.scale
        self.head = nn.Conv2d(3, w, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(w, w, 3, padding=1) for _ in range(arch.blocks))
        if k == 4:
            self.up: nn.Module = nn.Sequential(nn.Conv2d(w, 4 * arch.up_width, 3, padding=1),
                                               nn.LeakyReLU(LEAK), nn.PixelShuffle(2))
            last = arch.up_width
        else:
            self.up, last = nn.Identity(), w
        self.tail = nn.Conv2d(last, 12, 3, padding=1)  # 3 colours x 2x2 sub-pixels
        assert self.tail.bias is not None
        nn.init.zeros_(self.tail.weight)  # untrained: exactly the bilinear upsample
        nn.init.zeros_(self.tail.bias)
        # PixelShuffle's sub-pixel channels are learned apart and drew a one-pixel grid over the
        # face (the full-scale detail score rose 5x, the half-scale one barely). A fixed [1 2 1]
        # binomial after each shuffle has zero response at the 2-pixel period, so no such grid
        # can pass, and costs a fraction of a resize-then-convolve (23 against 10 ms CPU a face)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, 3, S, S)`` RGB in [0, 1] -> ``(N, 3, kS, kS)`` (not clamped: training sees the overshoot)."""
        if not torch.is_grad_enabled():
            return self._infer(x)
        h = F.leaky_relu(self.head(x), LEAK)
        for conv in self.body:
            h = h + F.leaky_relu(conv(h), LEAK)
        h = self.up(h)
        if self.arch.scale == 4:
            h = self._smooth(h)
        residual = self._smooth(F.pixel_shuffle(self.tail(h), 2))
        base = F.interpolate(x, scale_factor=self.arch.scale, mode="bilinear", align_corners=False)
        return base + residual


    def _infer(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without gradients: the same function (to float rounding) in 40 % less
        time on a CPU (convert runs it on every face). The convs run channels_last (2-3x faster at
        these widths), activations in place, the binomial on the 2S map as a depthwise conv and on
        the kS map as in-place shifted sums (each the faster there; measured on 8 faces), and on a
        CPU the bilinear base by OpenCV, plane by plane (5x faster than ``F.interpolate``)."""
        xc = x.contiguous(memory_format=torch.channels_last)
        h = F.leaky_relu_(self.head(xc), LEAK)
        for conv in self.body:
            h = h + F.leaky_relu_(conv(h), LEAK)
        h = self.up(h)
        if self.arch.scale == 4:
            h = _binomial_depthwise(h)
        residual = _binomial_sums(F.pixel_shuffle(self.tail(h), 2).contiguous())
        return _add_upsampled(residual, x, self.arch.scale)

    @staticmethod
    def _smooth(x: torch.Tensor) -> torch.Tensor:
        """The 3x3 binomial ([1 2 1] / 4 each way) on every channel, edges replicated, as shifted
        sums (a CPU runs these far faster than a depthwise conv or stride-1 pooling)."""
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        x = (x[..., :-2, :] + 2 * x[..., 1:-1, :] + x[..., 2:, :]) * 0.25
        return (x[..., :-2] + 2 * x[..., 1:-1] + x[..., 2:]) * 0.25


def _binomial_depthwise(x: torch.Tensor) -> torch.Tensor:
    """:meth:`Enhancer._smooth` as a depthwise 3x3 conv (the faster form on a channels_last map)."""
    c = x.shape[1]
    k = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    kernel = (k[:, None] * k[None, :]).expand(c, 1, 3, 3)
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)


def _add_upsampled(residual: torch.Tensor, x: torch.Tensor, scale: int) -> torch.Tensor:
    """``residual`` (contiguous, ``(N, 3, kS, kS)``) plus the bilinear upsample of ``x`` (``align_corners``
    False: OpenCV's ``INTER_LINEAR`` samples at the same pixel centres), in place."""
    if residual.device.type != "cpu" or residual.dtype != torch.float32 or not residual.is_contiguous():
        return residual.add_(F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False))
    import cv2

    out, src = residual.numpy(), x.float().contiguous().numpy()
    size = (out.shape[3], out.shape[2])
    for image, planes in zip(out, src):
        for c, small in enumerate(planes):
            image[c] += cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
    return residual


def _binomial_sums(x: torch.Tensor) -> torch.Tensor:
    """:meth:`Enhancer._smooth` as shifted sums into fresh buffers, added in place (the faster
    form on a contiguous map of few channels)."""
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    y = x[..., :-2, :] + x[..., 2:, :]
    y.add_(x[..., 1:-1, :], alpha=2)
    z = y[..., :-2] + y[..., 2:]
    return z.add_(y[..., 1:-1], alpha=2).mul_(0.0625)


class EnhancerPair(nn.Module):
    """Both people's enhancers (``nn.ModuleDict`` keys ``a`` and ``b``) and what they were trained against.

    Attributes:
        arch: the shared architecture.
        step: enhancer training steps done.
        base_step: the swap model's step whose decoder outputs it was trained on.
    """

    def __init__(self, arch: EnhancerArch, step: int = 0, base_step: int = 0) -> None:
        super().__init__()
        self.arch, self.step, self.base_step = arch, step, base_step
        self.sides = nn.ModuleDict({side: Enhancer(arch) for side in ("a", "b")})

    @torch.no_grad()
    def enhance(self, rgb: torch.Tensor, side: str) -> torch.Tensor:
        """Draw the decoder's faces ``rgb`` ``(N, 3, S, S)`` float in [0, 1] of person ``side`` at ``kS``.

        Returns:
            ``(N, 3, kS, kS)`` float32 in [0, 1], on the enhancer's device.

        Raises:
            ShapeError: ``rgb`` is not ``(N, 3, S, S)`` for this enhancer's ``S``.
        """
        s = self.arch.input_size
        if rgb.dim() != 4 or tuple(rgb.shape[1:]) != (3, s, s):
            raise ShapeError(f"enhancer input must have shape (N, 3, {s}, {s}), got {tuple(rgb.shape)}")
        param = next(self.parameters())
        net = self.sides[side]
        was = net.training
        net.eval()
        try:
            out = net(rgb.to(param.device, param.dtype))
        finally:
            net.train(was)
        return out.float().clamp_(0, 1)

    def metadata(self) -> dict[str, str]:
        """The safetensors metadata written with the weights."""
        return {"format": ENHANCER_FORMAT, "version": "1", "arch": json.dumps(self.arch.to_json()),
                "step": str(self.step), "base_step": str(self.base_step)}


def load_enhancer(model_dir: str | os.PathLike[str], card: ModelCard,
                  device: str | torch.device = "cpu") -> EnhancerPair | None:
    """The model folder's enhancer, or ``None`` when it has none (folders from before it, or not trained).

    Args:
        model_dir: a model folder.
        card: its card (:func:`masque.models.load_model`): the enhancer must take its ``input_size``.
        device: where to put it.

    Raises:
        ModelError: the file is damaged, a pickle, not an enhancer, or made for a model of another size.
    """
    path = Path(model_dir) / ENHANCER_FILE
    if not path.exists():
        return None
    tensors, meta = read_safetensors(path)
    if meta.get("format") != ENHANCER_FORMAT or "arch" not in meta:
        raise ModelError(f"{path} is not a masque enhancer (no format {ENHANCER_FORMAT!r}); delete it, or train "
                         "one with `masque train --enhancer`")
    try:
        arch_json = json.loads(meta["arch"])
        step, base_step = int(meta.get("step", "0")), int(meta.get("base_step", "0"))
    except ValueError:
        raise ModelError(f"{path}: its metadata is damaged; delete it and train it again "
                         "(`masque train --enhancer`)") from None
    arch = EnhancerArch.from_json(arch_json, str(path))
    if arch.input_size != card.input_size:
        raise ModelError(f"{path} enhances {arch.input_size} px faces but the model in {model_dir} draws "
                         f"{card.input_size} px faces: it belongs to another model. Delete it and train one for "
                         "this model (`masque train --enhancer`), or convert with --no-enhancer")
    pair = EnhancerPair(arch, step, base_step)
    own = pair.state_dict()
    if set(own) != set(tensors) or any(own[k].shape != tensors[k].shape for k in own):
        raise ModelError(f"{path} does not fit its own architecture {arch.to_json()}: the file is damaged; "
                         "delete it and train it again (`masque train --enhancer`)")
    pair.load_state_dict(tensors)
    return pair.to(device).eval()
