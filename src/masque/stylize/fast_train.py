"""Training a fast style model (:class:`~masque.stylize.fast.TransformNet`): resumable, Ctrl-C safe, observable.

The network is trained with the Gatys losses: VGG19 features of its output at ``content_layer``
against the input crop's, and Gram matrices at the style layers against the one style image's.
:class:`FastTrainer` works in a model folder as ``masque train`` and ``masque translate train``
do: every ``save_every`` steps and on Ctrl-C it writes ``style.safetensors``, Adam's moments
(``style_opt.safetensors``) and, last, the card ``style.json`` (step, config, style image digest),
each atomically, so an interrupted folder is always a loadable model and the same command resumes
at its step. Every ``preview_every`` steps a labelled preview PNG (rows of content | stylised, on
fixed crops) goes to ``previews/``; losses and previews go to TensorBoard under ``logs/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from masque.errors import ConfigError
from masque.models.io import read_safetensors
from masque.models.vgg import VGG19
from masque.stylize.checkpoint import load_moments, save_moments
from masque.stylize.fast import FORMAT, WEIGHTS_FILE, NetSpec, TransformNet, model_kind, save_style_model
from masque.stylize.gatys import STYLE_LAYERS, StyleTarget, gram
from masque.train.trainer import StepInfo

# relu1_1..relu4_1 (Huang & Belongie's style layers) and relu2_2 (Johnson et al.'s content layer):
# at 256 px the loss network then stops at relu4_1, a third of Gatys' relu5_1 depth's cost, so a
# CPU half hour trains about twice the steps; older cards without these fields keep what they used.
FAST_STYLE_LAYERS = ("block1_relu1", "block2_relu1", "block3_relu1", "block4_relu1")
FAST_CONTENT_LAYER = "block2_relu2"
_OLD_LAYERS = {"style_layers": STYLE_LAYERS, "content_layer": "block3_relu3"}

OPTIM_FILE = "style_opt.safetensors"


@dataclass(frozen=True)
class FastTrainConfig:
    """Training of one style model (a resumed run keeps its card's, but for ``steps`` and ``minutes``).

    Attributes:
        size: training crops' side in pixels. batch: crops a step. steps: total optimiser steps.
        minutes: stop (and save) after this long in one run, even before ``steps`` (None: no limit).
        content_weight, style_weight, tv_weight: as in :class:`masque.stylize.gatys.GatysConfig`.
        lr: Adam's learning rate. seed: data order and initial weights.
        style_size: longer side of the style image when its Grams are taken.
        content_layer: VGG19 layer of the content loss. style_layers: VGG19 layers of the Gram losses.
        preview_every, save_every: steps between preview PNGs and between checkpoints.
    """

    size: int = 256
    batch: int = 4
    steps: int = 2000
    minutes: float | None = None
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 1e-4
    lr: float = 2e-3
    seed: int = 0
    style_size: int = 256
    content_layer: str = FAST_CONTENT_LAYER
    style_layers: tuple[str, ...] = FAST_STYLE_LAYERS
    preview_every: int = 100
    save_every: int = 100


@dataclass(frozen=True)
class FastTrainReport:
    """How a run went: the model's step, steps and seconds of this run, the style / content losses
    (mean of the run's first and last 10 steps), whether Ctrl-C stopped it, whether it resumed."""

    steps: int
    seconds: float
    style_loss: tuple[float, float]
    content_loss: tuple[float, float]
    steps_run: int = 0
    interrupted: bool = False
    resumed: bool = False


def style_digest(style: np.ndarray) -> str:
    """A short sha256 of the style image's pixels: a resumed run must train towards the same style."""
    return hashlib.sha256(np.ascontiguousarray(style).tobytes() + str(style.shape).encode()).hexdigest()[:16]


def _crop(img: np.ndarray, size: int, scale: float, y: float, x: float) -> np.ndarray:
    """A ``size`` square of ``img`` scaled so its shorter side is ``size * scale``; ``y, x`` in [0, 1] place it."""
    h, w = img.shape[:2]
    s = size / min(h, w) * scale
    img = cv2.resize(img, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
    top, left = round(y * (img.shape[0] - size)), round(x * (img.shape[1] - size))
    return img[top:top + size, left:left + size]


def _crop_batch(images: Sequence[np.ndarray], rng: np.random.Generator, size: int, batch: int) -> torch.Tensor:
    """``(batch, 3, size, size)`` float [0, 1]: random crops (scale 1-1.3, random place, half mirrored)."""
    out = []
    for i in rng.integers(len(images), size=batch):
        crop = _crop(images[i], size, rng.uniform(1.0, 1.3), rng.random(), rng.random())
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return torch.from_numpy(np.ascontiguousarray(np.stack(out))).permute(0, 3, 1, 2).float() / 255


class FastTrainer:
    """Trains (or resumes) a fast style model for one style image.

    Args:
        root: the model folder (None: nothing saved, logged or previewed; for benchmarks). A
            folder holding a style model is resumed: its card's config and network win, but for
            ``steps`` and ``minutes``, which the caller may raise to train longer.
        vgg: the feature extractor, to the deepest of the style layers and ``content_layer``.
        style: RGB ``uint8`` style image (a resumed folder must have been trained on the same one).
        contents: RGB ``uint8`` content pictures (faces, frames); random crops of them are the data.
        card: extra fields for the model card (style image name, content source).

    Raises:
        ModelError: ``root`` holds another kind of model, or a damaged style model.
        ConfigError: ``root`` was trained on another style image.
    """

    def __init__(self, root: str | os.PathLike[str] | None, vgg: VGG19, style: np.ndarray,
                 contents: Sequence[np.ndarray], config: FastTrainConfig = FastTrainConfig(),
                 spec: NetSpec | None = None, card: dict[str, Any] | None = None) -> None:
        self.root = None if root is None else Path(root)
        self.vgg, self.contents, self.extra = vgg, contents, dict(card or {})
        self.digest = style_digest(style)
        old = self._previous_card()
        self.resumed = old is not None
        if old is not None:
            known = {f.name for f in dataclasses.fields(config)}
            saved = {**_OLD_LAYERS, **{k: v for k, v in old.get("config", {}).items() if k in known}}
            saved["style_layers"] = tuple(saved["style_layers"])
            config = dataclasses.replace(FastTrainConfig(**saved), steps=config.steps, minutes=config.minutes)
            spec = NetSpec(**old["net"])
        self.config, self.spec = config, spec or NetSpec()
        self.step = int(old.get("step", 0)) if old else 0
        self.device = next(vgg.buffers()).device
        torch.manual_seed(config.seed)
        self.net = TransformNet(self.spec).to(self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        if old is not None and self.root is not None:
            tensors, _ = read_safetensors(self.root / WEIGHTS_FILE)
            self.net.load_state_dict(tensors)
            load_moments(self.root / OPTIM_FILE, self.net, {"net": self.opt})
        self.rng = np.random.default_rng([config.seed, self.step])  # a resumed run draws new crops
        self.target = StyleTarget(vgg, [style], config.style_layers, size=config.style_size)
        self.norms = {n: float((g ** 2).sum()) for n, g in self.target.grams.items()}
        self.fixed = self._preview_crops(4)
        self.history: list[tuple[float, float]] = []
        self.losses: dict[str, float] = {}

    def _previous_card(self) -> dict[str, Any] | None:
        if self.root is None or model_kind(self.root) is None:
            return None
        from masque.stylize.fast import load_style_model

        _, card = load_style_model(self.root)  # refuses other kinds of model, damaged files
        if card.get("style_digest") not in (None, self.digest):
            raise ConfigError(f"{self.root} was trained on another style image ({card.get('style_image', '?')}); "
                              "give the same style image to resume it, or a new -m folder to start another model")
        return card

    def _preview_crops(self, count: int) -> torch.Tensor:
        picks = np.linspace(0, len(self.contents) - 1, min(count, len(self.contents))).round().astype(int)
        crops = [_crop(self.contents[i], self.config.size, 1.0, 0.5, 0.5) for i in picks]
        return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255

    def train_step(self) -> dict[str, float]:
        """One Adam step on a batch of random crops; returns the losses (style, content, tv, total)."""
        cfg, vgg = self.config, self.vgg
        self.net.train()
        x = _crop_batch(self.contents, self.rng, cfg.size, cfg.batch).to(self.device)
        y = self.net(x)
        with torch.no_grad():
            fc = vgg(x, [cfg.content_layer])[cfg.content_layer]
        fy = vgg(y, (*cfg.style_layers, cfg.content_layer))
        content = ((fy[cfg.content_layer] - fc) ** 2).mean() / (fc ** 2).mean()
        style = torch.stack([(((gram(fy[n]) - self.target.grams[n]) ** 2).sum((1, 2)) / self.norms[n]).mean()
                             for n in cfg.style_layers]).sum()
        tv = ((y[..., 1:, :] - y[..., :-1, :]) ** 2).mean() + ((y[..., 1:] - y[..., :-1]) ** 2).mean()
        loss = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * 1e3 * tv
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in (("style", style), ("content", content), ("tv", tv),
                                                  ("total", loss))}

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """RGB ``uint8`` grid ``(n * size, 2 * size, 3)``: each fixed crop beside its stylisation."""
        self.net.eval()
        x = self.fixed.to(self.device)
        pair = torch.cat([x, self.net(x)], dim=3)  # side by side
        grid = torch.cat(list(pair), dim=1).permute(1, 2, 0)
        return (grid.clamp(0, 1) * 255 + 0.5).byte().cpu().numpy()

    def save(self, seconds: float = 0.0) -> None:
        """Moments, weights, then the card (last: a card always describes complete files)."""
        if self.root is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        save_moments(self.root / OPTIM_FILE, self.net, {"net": self.opt}, FORMAT)
        save_style_model(self.root, self.net, {
            **self.extra, "style_digest": self.digest, "step": self.step, "config": asdict(self.config),
            "losses": self.losses, "train": {"size": self.config.size, "batch": self.config.batch,
                                             "steps": self.step, "seconds_last_run": round(seconds, 1)}})

    def run(self, on_step: Callable[[StepInfo], None] | None = None) -> FastTrainReport:
        """Train to ``config.steps`` (or for ``config.minutes``); Ctrl-C saves and returns (``interrupted``)."""
        cfg = self.config
        writer = _writer(self.root, self.step)
        start, first, interrupted = time.perf_counter(), self.step, False
        try:
            while self.step < cfg.steps:
                self.losses = self.train_step()
                self.history.append((self.losses["style"], self.losses["content"]))
                elapsed = time.perf_counter() - start
                for k, v in self.losses.items():
                    writer.add_scalar(f"loss/{k}", v, self.step)
                if on_step is not None:
                    on_step(StepInfo(self.step, cfg.steps, (self.step - first) * cfg.batch / max(elapsed, 1e-9),
                                     self.losses, cfg.lr, elapsed))
                if self.root is not None and self.step % cfg.preview_every == 0:
                    self._write_preview(writer)
                if self.step % cfg.save_every == 0:
                    self.save(elapsed)
                if cfg.minutes is not None and elapsed > cfg.minutes * 60:
                    break
        except KeyboardInterrupt:
            interrupted = True  # saved below: the same command resumes from here
        seconds = time.perf_counter() - start
        self.save(seconds)
        writer.close()
        tail = min(10, len(self.history) // 2) or len(self.history)
        nan = np.full(2, np.nan)
        first_l, last_l = (np.mean(self.history[:tail], 0), np.mean(self.history[-tail:], 0)) if tail else (nan, nan)
        self.net.eval()
        return FastTrainReport(self.step, seconds, (float(first_l[0]), float(last_l[0])),
                               (float(first_l[1]), float(last_l[1])), self.step - first, interrupted, self.resumed)

    def _write_preview(self, writer: Any) -> None:
        from masque.train.preview import write_preview

        assert self.root is not None
        grid = self.preview()
        write_preview(self.root / "previews" / f"step_{self.step:07d}.png", grid)
        writer.add_image("preview", grid, self.step, dataformats="HWC")


def _writer(root: Path | None, step: int) -> Any:
    """TensorBoard on ``root/logs`` (events past ``step`` of an interrupted run dropped); a no-op without a root."""
    if root is None:
        from masque.train.trainer import NoWriter

        return NoWriter()
    from masque.train.trainer import summary_writer

    return summary_writer(root, step)


def train_style_model(vgg: VGG19, style: np.ndarray, contents: Sequence[np.ndarray],
                      config: FastTrainConfig = FastTrainConfig(), spec: NetSpec | None = None,
                      root: str | os.PathLike[str] | None = None,
                      on_step: Callable[[StepInfo], None] | None = None) -> tuple[TransformNet, FastTrainReport]:
    """Train (or, with a ``root`` holding one, resume) a model: :class:`FastTrainer` then :meth:`~FastTrainer.run`."""
    trainer = FastTrainer(root, vgg, style, contents, config, spec)
    report = trainer.run(on_step)
    return trainer.net, report

