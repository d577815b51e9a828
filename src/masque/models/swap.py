"""The shared-encoder / two-decoder swap model every architecture instantiates.

One encoder learns what all faces share (pose, expression, light); decoder ``a`` learns to draw
person A from that code, decoder ``b`` person B. Swapping is encoding a face of one person and
decoding it with the other person's decoder.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from masque.errors import ConfigError, ModelError, ShapeError
from masque.models.gemm import Conv2d
from masque.models.layers import Conv, ResBlock, Upscale, count_flops, init_weights

Side = Literal["a", "b"]
SIDES: tuple[Side, Side] = ("a", "b")


@dataclass(frozen=True)
class Arch:
    """The hyper-parameters that fix an architecture (stored in ``state.json``).

    Attributes:
        input_size: side of the square RGB input and output, a power of two >= 16.
        encoder: filters of the 5x5 stride-2 convs; there must be ``log2(input_size / 4)`` of them
            so the last one is 4x4.
        dense: width of the dense bottleneck.
        bottleneck: channels of the 4x4 map the second dense layer is reshaped to.
        upscale: filters of the encoder's final upscale (4x4 -> 8x8).
        decoder: filters of the decoder's upscales (8x8 -> ... -> input_size).
        res_blocks: residual blocks after each decoder upscale (0 in the classic design).
    """

    input_size: int
    encoder: tuple[int, ...]
    dense: int
    bottleneck: int
    upscale: int
    decoder: tuple[int, ...]
    res_blocks: int = 0

    def __post_init__(self) -> None:
        n = math.log2(self.input_size / 4)
        if self.input_size < 16 or n != int(n) or len(self.encoder) != int(n):
            raise ModelError(f"architecture of input_size {self.input_size} needs log2(size/4) encoder convs, got "
                             f"{self.encoder}; the model's metadata is damaged or was not written by masque")
        if 8 * 2 ** len(self.decoder) != self.input_size:
            raise ModelError(f"{len(self.decoder)} decoder upscales from 8x8 do not reach input_size "
                             f"{self.input_size}: "
                             "the model's metadata is damaged or was not written by masque")

    def to_json(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class Encoder(nn.Module):
    """Convs down to 4x4, Dense(dense), Dense(4*4*bottleneck), reshape, upscale to 8x8."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        chans = (3, *arch.encoder)
        self.convs = nn.Sequential(*(Conv(cin, cout) for cin, cout in itertools.pairwise(chans)))
        self.dense1 = nn.Linear(4 * 4 * arch.encoder[-1], arch.dense)
        self.dense2 = nn.Linear(arch.dense, 4 * 4 * arch.bottleneck)
        self.bottleneck = arch.bottleneck
        self.up = Upscale(arch.bottleneck, arch.upscale)
        init_weights(self.dense1)
        init_weights(self.dense2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs(x).flatten(1)
        x = self.dense2(self.dense1(x)).view(-1, self.bottleneck, 4, 4)
        return self.up(x)


class Decoder(nn.Module):
    """Upscales (each optionally followed by residual blocks), then 5x5 conv heads: RGB and mask."""

    def __init__(self, arch: Arch) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = arch.upscale
        for filters in arch.decoder:
            layers.append(Upscale(cin, filters))
            layers.extend(ResBlock(filters) for _ in range(arch.res_blocks))
            cin = filters
        self.body = nn.Sequential(*layers)
        self.rgb = Conv2d(cin, 3, 5, padding=2)
        self.mask = Conv2d(cin, 1, 5, padding=2)
        init_weights(self.rgb)
        init_weights(self.mask)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(z)
        if torch.is_grad_enabled() or _hooked(self.rgb, self.mask):
            return torch.sigmoid(self.rgb(h)), torch.sigmoid(self.mask(h))
        # inference: both heads as one 4-channel conv (a conv to 3 or 1 channels runs far below the
        # CPU's rate, and the two cost as much as the one: 14 against 7 ms for 8 faces); the same
        # function, to float rounding. Not when hooks watch the heads (FLOP counts, traces).
        assert self.rgb.bias is not None and self.mask.bias is not None
        y = torch.sigmoid(F.conv2d(h, torch.cat([self.rgb.weight, self.mask.weight]),
                                   torch.cat([self.rgb.bias, self.mask.bias]), padding=self.rgb.padding))
        return y[:, :3], y[:, 3:]


def _hooked(*modules: nn.Module) -> bool:
    """Whether forward hooks (the modules' own or global ones) would see these modules run."""
    from torch.nn.modules import module as torch_module

    return bool(torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks
                or any(m._forward_hooks or m._forward_pre_hooks for m in modules))


class SwapNetwork(Protocol):
    """What convert and evaluate need of a swap model: the plugin contract at inference.

    :class:`SwapModel` is the trainable implementation (registered models subclass it, so the
    trainer gets an ``nn.Module``); anything else that draws a face as person ``a`` or ``b``
    (an exported or compiled network, a one-shot generator) satisfies this protocol instead.
    """

    name: str
    input_size: int

    def swap(self, x: torch.Tensor, to: Side) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(N, 3, S, S)`` float RGB in [0, 1] -> ``rgb (N, 3, S, S)``, ``mask (N, 1, S, S)``
        in [0, 1], the faces drawn as person ``to`` (``"a"`` or ``"b"``), without gradients."""
        ...


class SwapModel(nn.Module):
    """Shared encoder, one decoder per identity (keys ``"a"`` and ``"b"``).

    Attributes:
        name: registry name of the architecture (``original``, ``lightweight``, ``hires``).
        arch: the :class:`Arch` it was built from.
        input_size: side ``S`` of the square input and output.
        encoder: the shared :class:`Encoder`.
        decoders: ``nn.ModuleDict`` with keys ``"a"`` and ``"b"``.
    """

    def __init__(self, name: str, arch: Arch) -> None:
        super().__init__()
        self.name = name
        self.arch = arch
        self.input_size = arch.input_size
        self.encoder = Encoder(arch)
        self.decoders = nn.ModuleDict({side: Decoder(arch) for side in SIDES})
        self._flops: int | None = None

    def forward(self, x: torch.Tensor, side: Side) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode ``x`` and decode it as person ``side``.

        Args:
            x: ``(N, 3, S, S)`` float RGB in [0, 1].
            side: ``"a"`` or ``"b"``.

        Returns:
            ``rgb (N, 3, S, S)`` and ``mask (N, 1, S, S)``, both in [0, 1].
        """
        return self.decoders[side](self.encoder(x))

    @torch.no_grad()
    def swap(self, x: torch.Tensor, to: Side) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the faces in ``x`` as person ``to`` (eval mode, no gradients).

        Args:
            x: ``(N, 3, S, S)`` float RGB in [0, 1], any device (moved to the model's).
            to: ``"a"`` or ``"b"``: whose decoder draws the face.

        Returns:
            ``rgb (N, 3, S, S)`` and ``mask (N, 1, S, S)``, float32 in [0, 1], contiguous, on the
            model's device.

        Raises:
            ValueError: ``to`` is not a side or ``x`` is not ``(N, 3, S, S)``.
        """
        if to not in SIDES:
            raise ConfigError(f"swap target must be 'a' or 'b', got {to!r}")
        s = self.input_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, s, s):
            raise ShapeError(f"swap input must have shape (N, 3, {s}, {s}), got {tuple(x.shape)}")
        param = next(self.parameters())
        was_training = self.training
        self.eval()
        try:
            rgb, mask = self(x.to(param.device, param.dtype), to)
        finally:
            self.train(was_training)
        return (rgb.float().clamp(0, 1).contiguous(), mask.float().clamp(0, 1).contiguous())

    def param_count(self) -> int:
        """Trainable parameters of the encoder and both decoders."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_example(self) -> int:
        """Forward FLOPs (2 per multiply-add) of one example through the encoder and one decoder.

        A training step costs about 3x this per example (forward + backward).
        """
        if self._flops is None:
            param = next(self.parameters())
            x = torch.zeros(1, 3, self.input_size, self.input_size, device=param.device, dtype=param.dtype)
            self._flops = count_flops(self, lambda: self(x, "a"))
        return self._flops
