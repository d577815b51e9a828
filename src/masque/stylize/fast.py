"""Fast (feed-forward) style transfer, Johnson, Alahi & Fei-Fei 2016: one network per style.

:class:`TransformNet` is Johnson et al.'s image transformation network (a 9x9 conv, two stride-2
convs down, residual blocks, two upsampling convs, a 9x9 conv out; instance normalisation, as
Ulyanov et al. found it better than batch norm), narrowed so that a CPU runs it at video rate:
``width`` is the first layer's channels (Johnson: 32; masque's default 8), the blocks are
``blocks`` (Johnson: 5; here 3), the outer kernels ``kernel`` (Johnson: 9; here 5). Measured on
640x360 frames, one thread of the shared machine: 0.52 CPU s a frame at (16, 3, 9), 0.39 at
(16, 3, 5), 0.16 at (8, 3, 5). It is trained with the Gatys losses against VGG19 features of the
content images and the Gram matrices of the one style image (:func:`train_style_model`).

A style model is a folder: ``style.safetensors`` (weights, with ``format`` in its metadata) and
``style.json`` (its card: kind, architecture, style, training). :func:`load_style_model` reads it
and refuses any other kind of model with a message naming what the folder is.
"""

from __future__ import annotations

import json
import os
import time
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
from masque.models.vgg import VGG19
from masque.stylize.gatys import STYLE_LAYERS, StyleTarget, gram, to_tensor

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


@dataclass(frozen=True)
class FastTrainConfig:
    """Training of one style model.

    Attributes:
        size: training crops' side in pixels. batch: crops a step. steps: optimiser steps.
        minutes: stop after this long even before ``steps`` (None: no limit).
        content_weight, style_weight, tv_weight: as in :class:`masque.stylize.gatys.GatysConfig`.
        lr: Adam's learning rate. seed: data order and initial weights.
        style_size: longer side of the style image when its Grams are taken.
    """

    size: int = 256
    batch: int = 4
    steps: int = 2000
    minutes: float | None = None
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 1e-4
    lr: float = 2e-3
    seed: int = 0
    style_size: int = 256
    content_layer: str = "block3_relu3"


@dataclass(frozen=True)
class FastTrainReport:
    """How training went: steps, seconds, and the style / content losses of the first and last 10 steps."""

    steps: int
    seconds: float
    style_loss: tuple[float, float]
    content_loss: tuple[float, float]


def _crop_batch(images: Sequence[np.ndarray], rng: np.random.Generator, size: int, batch: int) -> torch.Tensor:
    import cv2

    out = []
    for i in rng.integers(len(images), size=batch):
        img = images[i]
        h, w = img.shape[:2]
        s = size / min(h, w) * rng.uniform(1.0, 1.3)
        img = cv2.resize(img, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
        y, x = rng.integers(img.shape[0] - size + 1), rng.integers(img.shape[1] - size + 1)
        crop = img[y:y + size, x:x + size]
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return torch.from_numpy(np.ascontiguousarray(np.stack(out))).permute(0, 3, 1, 2).float() / 255


def train_style_model(vgg: VGG19, style: np.ndarray, contents: Sequence[np.ndarray],
                      config: FastTrainConfig = FastTrainConfig(), spec: NetSpec = NetSpec(),
                      on_step: Callable[[int, int, dict[str, float]], None] | None = None,
                      stop: Callable[[], bool] | None = None) -> tuple[TransformNet, FastTrainReport]:
    """Train a :class:`TransformNet` for one style.

    Args:
        vgg: the feature extractor (to the deepest of the style and content layers).
        style: RGB ``uint8`` style image.
        contents: RGB ``uint8`` content images (faces, frames); random crops of them are the data.
        on_step: ``callback(step, total, losses)`` after each step.
        stop: polled each step; True ends training early (Ctrl-C, a time limit of the caller).
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = next(vgg.buffers()).device
    net = TransformNet(spec).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    target = StyleTarget(vgg, [style], STYLE_LAYERS, size=config.style_size)
    norms = {n: float((g ** 2).sum()) for n, g in target.grams.items()}
    layers = (*STYLE_LAYERS, config.content_layer)
    start, history = time.perf_counter(), []
    step = 0
    for step in range(1, config.steps + 1):
        x = _crop_batch(contents, rng, config.size, config.batch).to(device)
        y = net(x)
        with torch.no_grad():
            fc = vgg(x, [config.content_layer])[config.content_layer]
        fy = vgg(y, layers)
        content = ((fy[config.content_layer] - fc) ** 2).mean() / (fc ** 2).mean()
        style_loss = torch.stack([(((gram(fy[n]) - target.grams[n]) ** 2).sum((1, 2)) / norms[n]).mean()
                             for n in STYLE_LAYERS]).sum()
        tv = ((y[..., 1:, :] - y[..., :-1, :]) ** 2).mean() + ((y[..., 1:] - y[..., :-1]) ** 2).mean()
        loss = config.content_weight * content + config.style_weight * style_loss + config.tv_weight * 1e3 * tv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses = {"style": float(style_loss.detach()), "content": float(content.detach()),
                  "total": float(loss.detach())}
        history.append((losses["style"], losses["content"]))
        if on_step is not None:
            on_step(step, config.steps, losses)
        over = config.minutes is not None and time.perf_counter() - start > config.minutes * 60
        if over or (stop is not None and stop()):
            break
    net.eval()
    k = min(10, len(history))
    first, last = np.mean(history[:k], 0), np.mean(history[-k:], 0)
    return net, FastTrainReport(step, time.perf_counter() - start, (float(first[0]), float(last[0])),
                                (float(first[1]), float(last[1])))


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


class FastStyler:
    """A trained :class:`TransformNet` as a :class:`~masque.stylize.files.FrameStyler` (no state between frames).

    Args:
        net: the trained network. size: longer side of the output (None: the input's size).
    """

    def __init__(self, net: TransformNet, size: int | None = None) -> None:
        self.net, self.size = net, size

    @torch.inference_mode()
    def image(self, rgb: np.ndarray) -> np.ndarray:
        from masque.stylize.files import even_size
        from masque.stylize.gatys import fit_size

        hw = fit_size(rgb.shape, self.size) if self.size else rgb.shape[:2]
        x = to_tensor(rgb, (hw[0], hw[1])).to(next(self.net.parameters()).device)
        y = self.net(x)[0].permute(1, 2, 0).cpu().numpy()
        return even_size(np.clip(np.rint(y * 255), 0, 255).astype(np.uint8))

    def video(self) -> Callable[[np.ndarray], np.ndarray]:
        return self.image
