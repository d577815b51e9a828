"""Neural style transfer by optimisation (Gatys, Ecker & Bethge 2016) on masque's VGG19.

An image ``x`` is optimised so that its VGG19 features at the content layers match the content
image's and the Gram matrices (channel correlations) of its features at the style layers match
the style images' (several styles: a weighted sum of their Grams). Losses are relative, so the
weights mean the same at every size and layer:

- content: ``sum_l sum(w * (F_l(x) - F_l(c))^2) / ||F_l(c)||^2`` where ``w`` is 1, or, in
  face-aware mode, ``face_weight`` inside the face (a landmark hull) and 1 outside; face-aware mode
  also holds the face's own shallow features (``face_layers``, weight ``face_weight - 1`` inside
  the face, 0 outside): the deep content layer keeps where the eyes and mouth are, but only a
  shallow one keeps their shapes, which is what tells one person from another;
- style: ``sum_l ||G_l(x) - G_l(s)||^2 / ||G_l(s)||^2`` (``G = F F^T / (C H W)``);
- total variation (smoothness) and, for video, a temporal term ``mean(m * (x - warped)^2)``.

Coarse to fine: the image is first optimised at a quarter and a half of the final size, each
result upsampled to start the next scale, so the expensive full-size passes begin close to the
answer (a 512 px image needs a few dozen of them instead of hundreds). Each scale matches the
Grams of the style images resized by the same factor: a brush stroke keeps its share of the
picture, so what a coarse scale paints is what the full size wants, only blurred (matching the
full-size style at a quarter size paints strokes four times too large, which the last scale
must then undo: at 256 px the Gram loss fell 90 % that way against 93 % this way, same budget).

All images here are RGB float in [0, 1]; numpy arrays ``(H, W, 3)``, tensors ``(1, 3, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from masque.errors import ConfigError
from masque.models.vgg import LAYERS, VGG19

#: Gatys et al.'s layers, in Keras names
CONTENT_LAYERS = ("block4_relu2",)
STYLE_LAYERS = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1", "block5_relu1")
FACE_LAYERS = ("block2_relu2",)
OPTIMIZERS = ("lbfgs", "adam")

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class GatysConfig:
    """How one image is stylised.

    Attributes:
        content_layers, style_layers: VGG19 layer names (:data:`masque.models.vgg.LAYERS`).
        content_weight, style_weight, tv_weight: weights of the relative losses (module doc).
        optimizer: ``lbfgs`` (fewer steps, the default) or ``adam`` (steadier on video frames).
        size: longer side of the output in pixels (the content is resized to it).
        steps: optimiser steps (L-BFGS: loss evaluations) at the final size; coarser scales get
            twice as many each, at a quarter or a sixteenth of the cost.
        scales: 1 (no coarse-to-fine) to 4.
        lr: Adam's learning rate (pixel units of [0, 1]).
        keep_colors: transfer style in luminance only; the output keeps the content's colours.
        face_weight: content weight inside the face relative to outside (1: no face-awareness).
        face_layers: VGG19 layers whose content is held inside the face only (face-aware mode).
    """

    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 6.0
    tv_weight: float = 1e-4
    optimizer: str = "lbfgs"
    size: int = 512
    steps: int = 20
    scales: int = 3
    lr: float = 0.02
    keep_colors: bool = False
    face_weight: float = 1.0
    face_layers: tuple[str, ...] = FACE_LAYERS

    def __post_init__(self) -> None:
        bad = [n for n in (*self.content_layers, *self.style_layers, *self.face_layers) if n not in LAYERS]
        if bad or not self.content_layers or not self.style_layers:
            raise ConfigError(f"unknown or missing VGG19 layers {bad}; use names like block4_relu2 "
                              f"(the list: {', '.join(n for n in LAYERS if 'relu' in n)})")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.size < 32 or self.steps < 1 or not 1 <= self.scales <= 4:
            raise ConfigError(f"size >= 32, steps >= 1 and 1 <= scales <= 4 needed; got size {self.size}, "
                              f"steps {self.steps}, scales {self.scales}")
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0 or self.face_weight < 1 or self.lr <= 0:
            raise ConfigError("weights must be >= 0, face_weight >= 1 and lr > 0")

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the loss reads (the face layers only in face-aware mode)."""
        face = self.face_layers if self.face_weight > 1 else ()
        return tuple(dict.fromkeys((*self.content_layers, *self.style_layers, *face)))


@dataclass(frozen=True)
class Temporal:
    """The previous frame's result carried into this one (video).

    Attributes:
        warped: ``(H, W, 3)`` float32 previous output warped onto this frame by optical flow.
        mask: ``(H, W)`` float32 in [0, 1], 0 where the flow is unreliable (occlusions).
        weight: weight of ``mean(mask * (x - warped)^2)`` relative to the content loss.
    """

    warped: np.ndarray
    mask: np.ndarray
    weight: float = 200.0


@dataclass(frozen=True)
class StyleResult:
    """One stylised image and how the optimisation went.

    Attributes:
        image: ``(H, W, 3)`` float32 RGB in [0, 1] at the config's size.
        style_loss: ``(start, end)`` relative Gram loss at the final size: of the starting image
            (the content itself, or ``init``) and of the result: how far the style statistics moved.
        content_loss: ``(first, last)`` at the final scale's first and last step.
        evaluations: loss evaluations at all scales.
    """

    image: np.ndarray
    style_loss: tuple[float, float]
    content_loss: tuple[float, float]
    evaluations: int
    history: tuple[float, ...] = field(default=(), repr=False)


def gram(features: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` features -> ``(N, C, C)`` Gram matrices divided by ``C * H * W``."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def fit_size(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    """``(height, width)`` with the longer side ``size``, aspect kept, each at least 16."""
    h, w = shape[:2]
    s = size / max(h, w)
    return max(16, round(h * s)), max(16, round(w * s))


def to_tensor(image: np.ndarray, hw: tuple[int, int] | None = None) -> torch.Tensor:
    """RGB ``uint8`` or float [0, 1] ``(H, W, 3)`` -> ``(1, 3, h, w)`` float32, resized (area) to ``hw``."""
    img: np.ndarray = image.astype(np.float32) / 255 if image.dtype == np.uint8 else image.astype(np.float32)
    if hw is not None and img.shape[:2] != hw:
        small = hw[0] < img.shape[0]
        img = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA if small else cv2.INTER_CUBIC)
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].clamp(0, 1)


def to_image(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` float -> ``(H, W, 3)`` float32 in [0, 1]."""
    return x.detach()[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)


def luminance_style(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """A style image as grey whose luminance mean and spread are the content's (keep-colours mode).

    Args:
        style, content: RGB ``uint8`` or float [0, 1].

    Returns:
        ``(H, W, 3)`` float32 grey RGB in [0, 1].
    """
    ys = cv2.cvtColor(to_image(to_tensor(style)), cv2.COLOR_RGB2YCrCb)[..., 0]
    yc = cv2.cvtColor(to_image(to_tensor(content)), cv2.COLOR_RGB2YCrCb)[..., 0]
    y = (ys - ys.mean()) / (ys.std() + 1e-6) * yc.std() + yc.mean()
    return np.repeat(np.clip(y, 0, 1)[..., None], 3, axis=2).astype(np.float32)


def keep_colors(stylised: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The luminance of ``stylised`` with the chroma (Cr, Cb) of ``content`` (same size), float32 RGB [0, 1]."""
    out = cv2.cvtColor(stylised.astype(np.float32), cv2.COLOR_RGB2YCrCb)
    src = cv2.cvtColor(to_image(to_tensor(content, stylised.shape[:2])), cv2.COLOR_RGB2YCrCb)
    out[..., 1:] = src[..., 1:]
    return np.clip(cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB), 0, 1)


class StyleTarget:
    """The style images' blended Gram matrices, reusable across frames and scales.

    Args:
        vgg: the feature extractor (up to the deepest style layer at least).
        styles: RGB images (``uint8`` or float [0, 1]), any sizes.
        weights: one per style, summing to anything positive (normalised here); default equal.
        size: longer side the styles are resized to for an output of the config's full size; a
            coarse scale of the output takes them at the same fraction (:meth:`at`), so a brush
            stroke is the same share of the picture at every scale.
    """

    def __init__(self, vgg: VGG19, styles: Sequence[np.ndarray], layers: Sequence[str],
                 weights: Sequence[float] | None = None, size: int = 512) -> None:
        if not styles:
            raise ConfigError("at least one style image is needed")
        w = np.ones(len(styles)) if weights is None else np.asarray(weights, np.float64)
        if len(w) != len(styles) or (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"one non-negative weight per style image is needed ({len(styles)}), got {list(w)}")
        self.vgg, self.styles, self.layers, self.shares = vgg, list(styles), tuple(layers), w / w.sum()
        self.size = size
        self._cache: dict[int, dict[str, torch.Tensor]] = {}
        self.grams = self.at(size)

    def at(self, size: int) -> dict[str, torch.Tensor]:
        """``{layer: (1, C, C) Gram}`` of the styles resized to longer side ``size`` (cached)."""
        size = max(16, size)
        if size not in self._cache:
            grams: dict[str, torch.Tensor] = {}
            with torch.no_grad():
                for image, share in zip(self.styles, self.shares, strict=True):
                    feats = self.vgg(to_tensor(image, fit_size(image.shape, size)).to(_device(self.vgg)), self.layers)
                    for name in self.layers:
                        g = gram(feats[name]) * float(share)
                        grams[name] = grams[name] + g if name in grams else g
            self._cache[size] = grams
        return self._cache[size]


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.buffers()).device


def _face_weights(mask: np.ndarray | None, hw: tuple[int, int], face_weight: float) -> torch.Tensor | None:
    if mask is None or face_weight == 1.0:
        return None
    m = cv2.resize(mask.astype(np.float32), (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(1.0 + (face_weight - 1.0) * np.clip(m, 0, 1))[None, None]


class _Objective:
    """The loss at one scale: content features, style Grams, masks fixed; ``__call__(x)`` -> terms."""

    def __init__(self, vgg: VGG19, config: GatysConfig, content: torch.Tensor, grams: dict[str, torch.Tensor],
                 face: torch.Tensor | None, temporal: tuple[torch.Tensor, torch.Tensor, float] | None) -> None:
        self.vgg, self.config, self.grams, self.temporal = vgg, config, grams, temporal
        face_layers = config.face_layers if face is not None else ()
        with torch.no_grad():
            feats = vgg(content, (*config.content_layers, *face_layers))
        self.content: list[tuple[str, torch.Tensor, torch.Tensor | None, float]] = []
        for name in config.content_layers:
            f = feats[name]
            w = None if face is None else F.interpolate(face, size=f.shape[-2:], mode="area").to(f.device)
            norm = float((f ** 2).sum()) + 1e-8  # unweighted: the face's weight raises the term, not renormalised
            self.content.append((name, f, w, norm))
        for name in face_layers:
            assert face is not None
            f = feats[name]
            w = F.interpolate(face - 1.0, size=f.shape[-2:], mode="area").to(f.device)  # 0 outside the face
            self.content.append((name, f, w, float((f ** 2).sum()) + 1e-8))
        self.style_norm = {n: float((g ** 2).sum()) + 1e-12 for n, g in grams.items()}

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        feats = self.vgg(x, cfg.layers)
        content = sum(((feats[n] - f) ** 2 if w is None else w * (feats[n] - f) ** 2).sum() / norm
                      for n, f, w, norm in self.content)
        style = sum(((gram(feats[n]) - self.grams[n]) ** 2).sum() / self.style_norm[n]
                    for n in cfg.style_layers)
        tv = ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + ((x[..., 1:] - x[..., :-1]) ** 2).mean()
        terms = {"content": torch.as_tensor(content), "style": torch.as_tensor(style), "tv": tv}
        total = cfg.content_weight * terms["content"] + cfg.style_weight * terms["style"] + cfg.tv_weight * 1e3 * tv
        if self.temporal is not None:
            warped, mask, weight = self.temporal
            terms["temporal"] = (mask * (x - warped) ** 2).mean()
            total = total + weight * terms["temporal"]
        terms["total"] = total
        return terms


def stylise(vgg: VGG19, content: np.ndarray, target: StyleTarget, config: GatysConfig, *,
            face_mask: np.ndarray | None = None, init: np.ndarray | None = None,
            temporal: Temporal | None = None, progress: Progress | None = None) -> StyleResult:
    """Stylise one image.

    Args:
        vgg: the feature extractor (:func:`masque.models.vgg.load_vgg19`), deep enough for the layers.
        content: RGB ``uint8`` ``(H, W, 3)`` (or float [0, 1]).
        target: the style Grams (:class:`StyleTarget`; in keep-colours mode built from
            :func:`luminance_style` images).
        config: layers, weights, optimiser, size, steps, scales.
        face_mask: ``(H, W)`` float in [0, 1] at the content's size; used when ``face_weight > 1``.
        init: ``(h, w, 3)`` float [0, 1] start at the final size (video: the warped previous
            result); the optimisation then runs at the final scale only. Default: the content.
        temporal: the temporal term (video), at the final size.
        progress: ``callback(evaluations done, total)``.

    Returns:
        The result at ``fit_size(content.shape, config.size)`` (colours kept when asked).
    """
    device = _device(vgg)
    final = fit_size(content.shape, config.size)
    scales = 1 if init is not None else config.scales
    sizes = [fit_size(content.shape, max(32, config.size >> k)) for k in range(scales - 1, -1, -1)]
    budgets = [config.steps * 2 ** k for k in range(scales - 1, -1, -1)]
    total, done = sum(budgets), 0
    x = to_tensor(init if init is not None else content, sizes[0])
    first_last: tuple[float, float] = (0.0, 0.0)
    baseline = 0.0
    content_first_last: tuple[float, float] = (0.0, 0.0)
    history: list[float] = []
    for hw, budget in zip(sizes, budgets, strict=True):
        x = F.interpolate(x, size=hw, mode="bicubic", align_corners=False).clamp(0, 1) if x.shape[-2:] != hw else x
        temp = None
        if temporal is not None and hw == final:
            mask = cv2.resize(temporal.mask.astype(np.float32), (hw[1], hw[0]))
            temp = (to_tensor(temporal.warped, hw).to(device), torch.from_numpy(mask)[None, None].to(device),
                    temporal.weight)
        grams = target.at(round(target.size * max(hw) / max(final)))  # the style at this scale's share
        objective = _Objective(vgg, config, to_tensor(content, hw).to(device), grams,
                               _face_weights(face_mask, hw, config.face_weight), temp)

        def tick(n: int, _done: int = done) -> None:
            if progress is not None:
                progress(_done + n, total)

        if hw == final:
            with torch.no_grad():
                start = to_tensor(init if init is not None else content, hw).to(device)
                baseline = float(objective(start)["style"])
        x, losses = _optimise(objective, x.to(device), budget, config, tick)
        done += budget
        history += [s for s, _ in losses]
        first_last = (baseline, losses[-1][0])
        content_first_last = (losses[0][1], losses[-1][1])
    image = to_image(x)
    if config.keep_colors:
        image = keep_colors(image, content)
    return StyleResult(image, first_last, content_first_last, total, tuple(history))


def _optimise(objective: _Objective, x0: torch.Tensor, steps: int, config: GatysConfig,
              tick: Callable[[int], None]) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """Run ``steps`` loss evaluations from ``x0``; returns the result and (style, content) of each."""
    x = x0.detach().contiguous().clone().requires_grad_(True)  # LBFGS views the gradient flat
    losses: list[tuple[float, float]] = []

    def closure() -> float:
        opt.zero_grad(set_to_none=True)
        terms = objective(x)
        terms["total"].backward()
        losses.append((float(terms["style"].detach()), float(terms["content"].detach())))
        tick(len(losses))
        return float(terms["total"].detach())  # both optimisers read the loss as a number

    if config.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=steps, max_eval=steps,
                                                       history_size=20, tolerance_grad=0, tolerance_change=0,
                                                       line_search_fn="strong_wolfe")
        opt.step(closure)
        while len(losses) < steps:  # a line search can stop short; spend the rest of the budget
            before = len(losses)
            opt.step(closure)
            if len(losses) == before:
                break
    else:
        opt = torch.optim.Adam([x], lr=config.lr)
        for _ in range(steps):
            opt.step(closure)
            with torch.no_grad():
                x.clamp_(0, 1)
    with torch.no_grad():
        final = objective(x.clamp(0, 1))
    losses.append((float(final["style"]), float(final["content"])))
    return x.detach().clamp(0, 1), losses
