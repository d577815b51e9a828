"""Fast (feed-forward) style transfer, Johnson, Alahi & Fei-Fei 2016: one network per style.

:class:`TransformNet` is Johnson et al.'s image transformation network (a 9x9 conv, two stride-2
convs down, residual blocks, two upsampling convs, a 9x9 conv out; instance normalisation, as
Ulyanov et al. found it better than batch norm), narrowed so that a CPU runs it at video rate:
``width`` is the first layer's channels (Johnson: 32; masque's default 8), the blocks are
``blocks`` (Johnson: 5; here 3), the outer kernels ``kernel`` (Johnson: 9; here 5). Measured on
640x360 frames, one thread of the shared machine: 0.52 CPU s a frame at (16, 3, 9), 0.39 at
(16, 3, 5), 0.16 at (8, 3, 5). It is trained with the Gatys losses against VGG19 features of the
content images and the Gram matrices of the one style image (:mod:`masque.stylize.fast_train`).

A style model is a folder: ``style.safetensors`` (weights, with ``format`` in its metadata) and
``style.json`` (its card: kind, architecture, style, training). :func:`load_style_model` reads it
and refuses any other kind of model with a message naming what the folder is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save
from torch import nn

from masque import __version__
from masque.atomic import atomic_write_bytes
from masque.errors import InputNotFoundError, ModelError
from masque.models.io import read_safetensors
from masque.stylize.gatys import to_tensor

FORMAT = "masque-style-model"
WEIGHTS_FILE, CARD_FILE = "style.safetensors", "style.json"


@dataclass(frozen=True)
class NetSpec:
    """The transformer's shape: first-layer channels, residual blocks, outer kernel size."""

    width: int = 8
    blocks: int = 3
    kernel: int = 5


class _ConvIN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride),
                                   nn.InstanceNorm2d(cout, affine=True)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_ConvIN(c, c, 3), _ConvIN(c, c, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Up(nn.Module):
    """Nearest 2x upsampling then a conv: no checkerboard, unlike a transposed conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _ConvIN(cin, cout, 3)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class TransformNet(nn.Module):
    """RGB ``(N, 3, H, W)`` in [0, 1] -> stylised RGB, same size, in [0, 1] (any H, W)."""

    def __init__(self, spec: NetSpec = NetSpec()) -> None:
        super().__init__()
        w = spec.width
        self.spec = spec
        self.down = nn.Sequential(_ConvIN(3, w, spec.kernel), _ConvIN(w, 2 * w, 3, 2), _ConvIN(2 * w, 4 * w, 3, 2))
        self.res = nn.Sequential(*[_Residual(4 * w) for _ in range(spec.blocks)])
        self.up1, self.up2 = _Up(4 * w, 2 * w), _Up(2 * w, w)
        self.out = nn.Sequential(nn.ReflectionPad2d(spec.kernel // 2), nn.Conv2d(w, 3, spec.kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        half = ((h + 1) // 2, (w + 1) // 2)
        y = self.res(self.down(x))
        y = self.up2(self.up1(y, half), (h, w))
        return torch.sigmoid(self.out(y))  # bounded output, no clamp needed in the loss


def save_style_model(folder: str | os.PathLike[str], net: TransformNet, card: dict[str, Any]) -> Path:
    """Write ``style.safetensors`` and ``style.json`` (the card: ``card`` plus kind and architecture) atomically."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(root / WEIGHTS_FILE, st_save(weights, {"format": FORMAT, "spec": json.dumps(asdict(net.spec))}))
    full = {"format": FORMAT, "version": __version__, "kind": "fast-style", "net": asdict(net.spec), **card}
    atomic_write_bytes(root / CARD_FILE, (json.dumps(full, indent=2) + "\n").encode())
    return root


def model_kind(folder: str | os.PathLike[str]) -> str | None:
    """What kind of masque model a folder holds: ``style``, ``translate``, ``swap``, or None."""
    root = Path(folder)
    if not root.is_dir():
        return None
    if (root / CARD_FILE).is_file():
        return "style"
    if (root / "translate.json").is_file():
        return "translate"
    if (root / "state.json").is_file():
        return "swap"
    return None


def load_style_model(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[TransformNet, dict]:
    """The :class:`TransformNet` and card of a style model folder.

    Raises:
        InputNotFoundError: no such folder. ModelError: it is not a style model (a swap or a
            translation model, another file), or its files are damaged.
    """
    root = Path(folder)
    if not root.exists():
        raise InputNotFoundError(f"style model not found: {root}; train one with masque style train")
    kind = model_kind(root)
    if kind != "style":
        what = {"translate": "a translation model (use masque translate apply)",
                "swap": "a face-swap model (use masque convert)"}.get(kind or "", "not a masque style model")
        raise ModelError(f"{root} is {what}; masque style needs a folder written by masque style train "
                         f"(holding {CARD_FILE} and {WEIGHTS_FILE})")
    try:
        card = json.loads((root / CARD_FILE).read_text())
        spec = NetSpec(**card["net"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{root / CARD_FILE} is damaged ({exc}); train the model again") from None
    if card.get("format") != FORMAT:
        raise ModelError(f"{root / CARD_FILE} is not a masque style model card (format {card.get('format')!r})")
    tensors, meta = read_safetensors(root / WEIGHTS_FILE)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{root / WEIGHTS_FILE} is not a masque style model's weights")
    net = TransformNet(spec)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ModelError(f"{root / WEIGHTS_FILE} does not fit its card's network ({str(exc)[:200]})") from None
    return net.to(device).eval(), card


APPLY_MODES = ("fp32", "channels_last", "bf16")


class FastStyler:
    """A trained :class:`TransformNet` as a :class:`~masque.stylize.files.FrameStyler` (no state between frames).

    Args:
        net: the trained network. size: longer side of the output (None: the input's size).
        mode: ``fp32`` (NCHW), ``channels_last`` (NHWC memory layout) or ``bf16`` (autocast to
            bfloat16: faster where the CPU has bf16 instructions, slightly coarser colours).
    """

    def __init__(self, net: TransformNet, size: int | None = None, mode: str = "fp32") -> None:
        if mode not in APPLY_MODES:
            raise ModelError(f"mode must be one of {APPLY_MODES}, got {mode!r}")
        self.net, self.size, self.mode = net, size, mode
        if mode == "channels_last":
            import copy

            # a copy: the caller's net keeps its layout
            self.net = copy.deepcopy(net).to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    @torch.inference_mode()
    def image(self, rgb: np.ndarray) -> np.ndarray:
        """RGB ``uint8`` ``(H, W, 3)`` -> stylised RGB ``uint8`` at ``size`` (even sides, for video)."""
        import contextlib

        from masque.stylize.files import even_size
        from masque.stylize.gatys import fit_size

        hw = fit_size(rgb.shape, self.size) if self.size else rgb.shape[:2]
        device = next(self.net.parameters()).device
        if tuple(hw) == rgb.shape[:2]:  # video frames at their own size: convert in torch (threaded, no GIL)
            x = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None].float().div_(255)
        else:
            x = to_tensor(rgb, (hw[0], hw[1])).to(device)
        if self.mode == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if self.mode == "bf16" else contextlib.nullcontext()
        with cast:
            y = self.net(x)[0].float()
        y = y.mul_(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()
        return even_size(y.cpu().numpy())

    def video(self) -> Callable[[np.ndarray], np.ndarray]:
        return self.image

    def frames(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Stylise consecutive video frames (no state between them), each in a thread of its own.

        On a CPU the network's small convolutions keep two cores busier as two single-threaded
        passes side by side than as one two-threaded pass (about 20 % more frames a second here,
        the output unchanged); torch's thread count is restored afterwards.
        """
        if len(batch) < 2 or next(self.net.parameters()).device.type != "cpu":
            return [self.image(f) for f in batch]
        from concurrent.futures import ThreadPoolExecutor

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(len(batch), thread_name_prefix="masque-style") as pool:
                return list(pool.map(self.image, batch))
        finally:
            torch.set_num_threads(threads)
