"""The enhancer stage of ``masque train`` (``--enhancer``): per-person super-resolution on a trained model.

Run after (or between) base training. The swap model is frozen; each step takes ``batch``
faces of A and ``batch`` of B (:mod:`masque.train.enhancer_data`), runs them through the shared
encoder and the person's own decoder (the decoder's reconstruction, blurred exactly as a swap
is), and trains that person's :class:`~masque.models.enhancer.Enhancer` to turn it into the real
crop at ``k`` times the size. A share ``real_mix`` of inputs are the real model-size crop instead
(an easier, sharper input; it keeps the network from learning only the decoder's blur).
Half the inputs get smooth grey noise and, drawn apart, half a blend towards 2x2 blocks
(:func:`roughen`): convert feeds the enhancer the decoder's mottled *swaps*, which an enhancer
trained on clean reconstructions only sharpened into a grid.

Loss, per side: L1 against the real crop (weighted 4x on the face's landmark mask) plus a
**detail-energy term**: on the grey image's Laplacian-pyramid bands at half and quarter
resolution (:data:`BANDS`), the local energy (mean square over 8x8 windows) of the output is
matched to the real crop's (L1 of square roots, on the face mask). L1 alone regresses to the mean of the skin texture it
cannot place and stays soft; the energy term is blind to where a pore or wrinkle sits, so it
rewards drawing as much detail as the person has, where the person has it. Its half-resolution
band is where ``masque evaluate``'s detail score looks; the full-resolution band is left out
because matching it rewarded a one-pixel grid (grain). Optionally ``vgg`` adds the VGG19 perceptual loss
(:class:`masque.train.perceptual.PerceptualLoss`) on a random 96 px patch.

At its start the stage also writes each person's detail exemplars (``exemplars.safetensors``,
:mod:`masque.train.exemplars`): real faces of the face sets whose fine detail convert lays onto
the enhanced faces (:mod:`masque.convert.detail`).

The stage is resumable and Ctrl-C safe like base training: weights and Adam's moments are saved
every ``save_every`` steps and at the end (also on interrupt), the model card's ``enhancer``
record last; TensorBoard logs go to ``MODEL_DIR/logs/enhancer``, previews (decoder output
upsampled | enhanced | real) to ``MODEL_DIR/previews/enhancer_*.png``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save as st_save
from torch.utils.data import DataLoader

from masque.atomic import atomic_write_bytes
from masque.errors import ConfigError, ModelError
from masque.faceset import FaceSet
from masque.models import SIDES, SwapModel, load_model
from masque.models.device import amp_dtype, autocast, pick_device
from masque.models.enhancer import (
    ENHANCER_FILE,
    ENHANCER_OPTIMIZER_FILE,
    EnhancerArch,
    EnhancerPair,
    load_enhancer,
)
from masque.models.io import STATE_FILE, read_card
from masque.train.checkpoint import adam_moments, load_adam_moments
from masque.train.data import AugmentConfig, _worker_init
from masque.train.distributed import LOCAL
from masque.train.enhancer_data import CropPool, PairStream, load_crops, make_pairs
from masque.train.exemplars import write_exemplars
from masque.train.losses import _gaussian_window
from masque.train.preview import write_preview
from masque.train.trainer import StepInfo, TrainSummary, summary_writer

log = logging.getLogger(__name__)
#: previews: the faces as they are
AUGMENT_OFF = AugmentConfig(rotate=0.0, zoom=0.0, shift=0.0, flip=0.0, warp=0.0, lightness=0.0, ab=0.0)


@dataclass(frozen=True)
class EnhancerConfig:
    """Options of :class:`EnhancerTrainer`.

    Attributes:
        steps: stop when the enhancer's step count reaches this (``None``: no limit).
        minutes: stop after this many minutes of this run (``None``: no limit).
        batch: faces per person per step.
        lr: Adam's learning rate (constant).
        scale, width, blocks, up_width: the architecture of a new enhancer
            (:class:`~masque.models.enhancer.EnhancerArch`; a resumed one keeps its own).
        real_mix: share of inputs that are the real model-size crop instead of the decoder's output.
        detail: weight of the detail-energy term.
        noise: largest standard deviation (0-1 scale) of the smooth grey noise :func:`roughen`
            adds to a share of the inputs (0: off).
        pixelate: largest blend towards 2x2 blocks :func:`roughen` gives a share of the inputs (0: off).
        vgg: weight of the VGG19 perceptual term on a 96 px patch (0: off; it costs about 3x a step).
        save_every / preview_every / log_every: steps between checkpoints / previews / loss read-outs.
        workers: data processes (0: inline).
        device: ``auto``, ``cpu``, ``cuda``.
        seed: initialisation and sampling seed.
        threads: CPU threads (``None``: torch's default).
        label_previews: watermark and sign preview PNGs as synthetic.
    """

    steps: int | None = None
    minutes: float | None = None
    batch: int = 8
    lr: float = 1e-3
    scale: int = 4
    width: int = 24
    blocks: int = 2
    up_width: int = 16
    real_mix: float = 0.25
    detail: float = 0.5
    noise: float = 0.03
    pixelate: float = 0.5
    vgg: float = 0.0
    save_every: int = 100
    preview_every: int = 100
    log_every: int = 10
    workers: int = 1
    device: str = "auto"
    seed: int = 0
    threads: int | None = None
    label_previews: bool = True

    def __post_init__(self) -> None:
        if (self.batch < 1 or not 0 <= self.real_mix <= 1 or self.lr <= 0 or min(self.detail, self.vgg) < 0
                or not 0 <= self.noise <= 1 or not 0 <= self.pixelate <= 1):
            raise ConfigError(f"enhancer: batch must be >= 1, real_mix, noise and pixelate in [0, 1], lr > 0, loss "
                              f"weights >= 0; got batch {self.batch}, real_mix {self.real_mix}, noise {self.noise}, "
                              f"pixelate {self.pixelate}, lr {self.lr}, detail {self.detail}, vgg {self.vgg}")

    @property
    def arch_fields(self) -> dict[str, int]:
        return {"scale": self.scale, "width": self.width, "blocks": self.blocks, "up_width": self.up_width}


#: Laplacian-pyramid bands the detail term matches: 1 = half resolution, 2 = quarter. The finest
#: band (0) is left out on purpose: matching it, a young enhancer filled the face with a one-pixel
#: PixelShuffle grid (energy, not detail), see the README
BANDS = (1, 2)


def pyramid_energy(rgb: torch.Tensor, bands: tuple[int, ...] = BANDS, window: int = 8) -> list[torch.Tensor]:
    """Local detail energy of ``(N, 3, H, W)`` RGB [0, 1] images, per Laplacian-pyramid band.

    Returns one map per band ``l`` of ``bands``, ``(N, 1, H / (2^l window), W / (2^l window))``:
    the mean squared band (grey, 0-1 scale) over ``window`` x ``window`` blocks.
    """
    grey = (rgb * rgb.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    out = []
    for level in range(max(bands) + 1):
        low = F.avg_pool2d(grey, 2)
        if level in bands:
            band = grey - F.interpolate(low, scale_factor=2, mode="bilinear", align_corners=False)
            out.append(F.avg_pool2d(band * band, window))
        grey = low
    return out


def detail_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 of the square roots of :func:`pyramid_energy` bands, inside ``mask`` ``(N, 1, H, W)``."""
    total = pred.new_zeros(())
    for ep, et in zip(pyramid_energy(pred), pyramid_energy(target)):
        m = F.adaptive_avg_pool2d(mask, (int(ep.shape[-2]), int(ep.shape[-1])))
        diff = ((ep + 1e-8).sqrt() - (et + 1e-8).sqrt()).abs()
        total = total + (diff * m).sum() / m.sum().clamp_min(1.0)
    return total


#: share of the inputs :func:`roughen` adds noise to, and (drawn apart) share it pixelates
ROUGH_SHARE = 0.5
#: the noise's smoothing: a Gaussian of 0.6 px at the model's size (5 taps), so its grain is about
#: 2 pixels wide, like the mottling of a decoder's swaps
NOISE_SIGMA = 0.6


def roughen(x: torch.Tensor, noise: float, pixelate: float, gen: torch.Generator,
            share: float = ROUGH_SHARE) -> torch.Tensor:
    """Make a share of enhancer inputs ``(N, 3, S, S)`` RGB [0, 1] as rough as a decoder's swaps.

    Convert feeds the enhancer a decoder's faces drawn from the *other* person's codes; those are
    rougher than the reconstructions it trains on: mottled at 2-3 pixels, and pixelated where the
    decoder's last PixelShuffle draws its 2x2 sub-pixels alike. Trained on clean inputs only, the
    enhancer sharpened that roughness into a grid over the swapped face (README, "the grid"). Here,
    with probability ``share`` each, an input gets smooth grey noise of a random standard
    deviation up to ``noise`` (with a little colour), and a random blend, up to ``pixelate``,
    towards its own 2x2 block means; the target stays the real face, so the enhancer learns to
    remove both rather than to amplify them.

    Returns:
        A new tensor, same shape, dtype and device, clipped to [0, 1].
    """
    n, _, h, w = x.shape
    if n == 0 or (noise <= 0 and pixelate <= 0):
        return x
    out = x
    if noise > 0:
        field = torch.randn(n, 1, h, w, generator=gen) + 0.3 * torch.randn(n, 3, h, w, generator=gen)
        taps = _gaussian_window(5, NOISE_SIGMA)
        field = F.conv2d(F.pad(field.reshape(-1, 1, h, w), (2, 2, 2, 2), mode="reflect"),
                         (taps[:, None] * taps[None, :])[None, None]).reshape(n, 3, h, w)
        field = field / field.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        amp = noise * torch.rand(n, 1, 1, 1, generator=gen) * (torch.rand(n, 1, 1, 1, generator=gen) < share)
        out = x + (amp * field).to(x.device, x.dtype)
    if pixelate > 0 and h % 2 == 0 and w % 2 == 0:
        blend = pixelate * torch.rand(n, 1, 1, 1, generator=gen) * (torch.rand(n, 1, 1, 1, generator=gen) < share)
        blocks = F.interpolate(F.avg_pool2d(out, 2), scale_factor=2, mode="nearest")
        out = out + blend.to(x.device, x.dtype) * (blocks - out)
    return out.clamp(0, 1)


def _split(n: int, every: int) -> tuple[list[int], list[int]]:
    """``(train, held)`` positions of ``n`` faces: every ``every``-th held out, as base training does."""
    held = [i for i in range(n) if every > 0 and i % every == 0]
    train = [i for i in range(n) if every <= 0 or i % every != 0]
    return train or list(range(n)), held or train or list(range(n))


class EnhancerTrainer:
    """Trains (or resumes) the enhancers of the model in ``model_dir`` on face sets A and B.

    Args:
        faceset_a, faceset_b: the face sets the model was trained on (person A, person B).
        model_dir: a model folder written by ``masque train``; its swap model stays frozen.
        config: options; a resumed enhancer keeps its architecture.

    Raises:
        ModelError: ``model_dir`` holds no trained model, or a damaged enhancer.
    """

    def __init__(self, faceset_a: str | os.PathLike[str], faceset_b: str | os.PathLike[str],
                 model_dir: str | os.PathLike[str], config: EnhancerConfig | None = None) -> None:
        self.root = Path(model_dir)
        self.facesets = (str(Path(faceset_a).resolve()), str(Path(faceset_b).resolve()))
        self.config = config or EnhancerConfig()
        card = read_card(self.root) if self.root.is_dir() else None
        if card is None:
            raise ModelError(f"{self.root} holds no trained model ({STATE_FILE}); the enhancer stage refines a "
                             f"trained model: run `masque train -A ... -B ... -m {self.root}` first")
        self.card = card
        load_enhancer(self.root, card)  # a damaged or foreign enhancer file fails now, before the faces load
        self.device = pick_device(self.config.device)
        self.amp = amp_dtype(self.device)
        self.group = LOCAL  # one process (what `masque train`'s progress and Ctrl-C handling ask of a trainer)

    # ---- setup -----------------------------------------------------------------------------------
    def _build(self) -> tuple[EnhancerPair, torch.optim.Optimizer]:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        pair = load_enhancer(self.root, self.card)
        if pair is None:
            pair = EnhancerPair(EnhancerArch(input_size=self.card.input_size, **cfg.arch_fields),
                                base_step=self.card.step)
        elif pair.arch.to_json() != EnhancerArch(input_size=self.card.input_size, **cfg.arch_fields).to_json():
            log.warning("resuming the enhancer in %s: keeping its architecture %s", self.root, pair.arch.to_json())
        if pair.step > 0 and pair.base_step != self.card.step:
            log.warning("the model in %s trained on from step %d to %d since its enhancer was trained; the "
                        "enhancer now learns the new decoder's output", self.root, pair.base_step, self.card.step)
        pair.base_step = self.card.step
        pair = pair.to(self.device).train()
        fused = self.device.type in ("cpu", "cuda")
        opt = torch.optim.Adam(pair.parameters(), lr=cfg.lr, betas=(0.9, 0.99), fused=fused)
        if pair.step > 0 and not load_adam_moments(self.root / ENHANCER_OPTIMIZER_FILE, pair, opt, "the enhancer"):
            log.warning("%s has no enhancer optimizer state; Adam's moments restart", self.root)
        for group in opt.param_groups:
            group["lr"] = cfg.lr
        return pair, opt

    def _pools(self) -> tuple[tuple[CropPool, CropPool], tuple[CropPool, CropPool]]:
        every = self.card.holdout_every or 0
        s, cov = self.card.input_size, self.card.align.coverage
        train, held = [], []
        for path in self.facesets:
            with FaceSet(path) as fs:
                n = len(fs)
            keep, hold = _split(n, every)
            train.append(load_crops(path, s, cov, keep))
            picks = np.linspace(0, len(hold) - 1, min(3, len(hold))).round().astype(int)
            held.append(load_crops(path, s, cov, [hold[i] for i in picks]))
        return (train[0], train[1]), (held[0], held[1])

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.amp)

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, on_step: Callable[[StepInfo], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> TrainSummary:
        """Train until ``steps`` or ``minutes`` is reached or ``should_stop()`` is true (then save).

        ``KeyboardInterrupt`` saves and ends the run (``summary.interrupted``), as base training does.
        """
        cfg = self.config
        if cfg.threads is not None:
            torch.set_num_threads(max(1, cfg.threads))
        model, _ = load_model(self.root, device=self.device)
        model.requires_grad_(False)
        pools, held = self._pools()
        write_exemplars(self.root, *self.facesets)
        pair, opt = self._build()
        shifts = (np.asarray(self.card.shift("a"), np.float64), np.asarray(self.card.shift("b"), np.float64))
        stream = PairStream(pools, cfg.batch, self.card.input_size, pair.arch.scale, self.card.align.coverage,
                            shifts, seed=cfg.seed + 7919 * pair.step)
        loader = _loader(stream, cfg.workers)
        rng = np.random.default_rng([cfg.seed, 17])
        preview = make_pairs(held, min(len(held[0]), len(held[1])), np.random.default_rng(0), self.card.input_size,
                             pair.arch.scale, self.card.align.coverage, shifts,
                             AUGMENT_OFF)
        writer = summary_writer(self.root, pair.step, "logs/enhancer")
        vgg = _perceptual(cfg.vgg)
        ctx = _Loop(self, model, pair, opt, writer, rng, vgg, preview)
        try:
            return ctx.run(iter(loader), on_step, should_stop)
        finally:
            writer.close()
            del loader


class _Loop:
    """The mutable part of one :meth:`EnhancerTrainer.run`."""

    def __init__(self, t: EnhancerTrainer, model: SwapModel, pair: EnhancerPair, opt: torch.optim.Optimizer,
                 writer: Any, rng: np.random.Generator, vgg: Any, preview: dict[str, np.ndarray]) -> None:
        self.t, self.model, self.pair, self.opt, self.writer = t, model, pair, opt, writer
        self.rng, self.vgg, self.preview_batch = rng, vgg, preview
        self.cfg = t.config
        self.losses: dict[str, float] = dict(t.card.enhancer.get("loss", {})) if t.card.enhancer else {}
        self.pending: list[dict[str, torch.Tensor]] = []
        self.history: list[tuple[int, float]] = []

    def run(self, batches: Any, on_step: Callable[[StepInfo], None] | None,
            should_stop: Callable[[], bool] | None) -> TrainSummary:
        cfg, start = self.cfg, self.pair.step
        begin = window = time.perf_counter()
        deadline = begin + cfg.minutes * 60 if cfg.minutes is not None else math.inf
        rate, in_window, interrupted = 0.0, 0, False
        per_step = 2 * cfg.batch
        try:
            while (cfg.steps is None or self.pair.step < cfg.steps) and time.perf_counter() < deadline:
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
                self.pending.append(self.step(next(batches)))
                self.pair.step += 1
                in_window += 1
                step = self.pair.step
                if step % cfg.log_every == 0 or step == cfg.steps:
                    now = time.perf_counter()
                    rate, window, in_window = per_step * in_window / max(now - window, 1e-9), now, 0
                    self.read_out(step, rate)
                if on_step is not None:
                    on_step(StepInfo(step, cfg.steps, rate, dict(self.losses), cfg.lr, time.perf_counter() - begin))
                if step % cfg.preview_every == 0:
                    self.preview(step)
                if step % cfg.save_every == 0:
                    self.save(step)
        except KeyboardInterrupt:
            interrupted = True
        step = self.pair.step
        if self.pending:
            self.read_out(step, rate)
        seconds = time.perf_counter() - begin
        if step != start:
            self.save(step)
            if step % cfg.preview_every != 0:
                self.preview(step)
        return TrainSummary(start, step, seconds, per_step * (step - start) / seconds if seconds > 0 else 0.0,
                            dict(self.losses), self.history, interrupted, start > 0)

    def inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Enhancer inputs (decoder reconstructions, some real crops), targets and masks, NCHW on the device."""
        dev, b = self.t.device, self.cfg.batch
        x, target, mask = (batch[k].to(dev).permute(0, 3, 1, 2).contiguous() for k in ("input", "target", "mask"))
        with torch.no_grad(), self.t._autocast():
            recon = torch.cat([self.model(x[i * b:(i + 1) * b], side)[0] for i, side in enumerate(SIDES)])
        recon = recon.float().clamp(0, 1)
        real = torch.from_numpy(self.rng.random(len(x)) < self.cfg.real_mix).to(dev).view(-1, 1, 1, 1)
        gen = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        return roughen(torch.where(real, x, recon), self.cfg.noise, self.cfg.pixelate, gen), target, mask

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg, b = self.cfg, self.cfg.batch
        inp, target, mask = self.inputs(batch)
        total = inp.new_zeros(())
        losses: dict[str, torch.Tensor] = {}
        for i, side in enumerate(SIDES):
            part = slice(i * b, (i + 1) * b)
            pred = self.pair.sides[side](inp[part])
            terms = side_loss(pred, target[part], mask[part], cfg.detail, cfg.vgg, self.vgg, self.rng)
            total = total + terms["total"]
            losses.update({f"{k}_{side}": v.detach() for k, v in terms.items()})
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        return losses

    def read_out(self, step: int, rate: float) -> None:
        pending, self.pending = self.pending, []
        keys = pending[0].keys()
        means = torch.stack([torch.stack([p[k] for p in pending]).float().mean() for k in keys]).tolist()
        self.losses = {k: round(v, 6) for k, v in zip(keys, means)}
        self.history.append((step, self.losses["total_a"] + self.losses["total_b"]))
        for k, v in self.losses.items():
            self.writer.add_scalar(f"enhancer/{k}", v, step)
        self.writer.add_scalar("enhancer/examples_per_s", rate, step)

    @torch.no_grad()
    def preview(self, step: int) -> None:
        """Rows of held-out faces, A then B: decoder output upsampled | enhanced | real crop."""
        was = self.pair.training
        self.pair.eval()
        try:
            x = torch.from_numpy(self.preview_batch["input"]).permute(0, 3, 1, 2).to(self.t.device)
            b = len(x) // 2
            with self.t._autocast():
                recon = torch.cat([self.model(x[i * b:(i + 1) * b], side)[0] for i, side in enumerate(SIDES)])
            recon = recon.float().clamp(0, 1)
            big = torch.cat([self.pair.enhance(recon[i * b:(i + 1) * b], side) for i, side in enumerate(SIDES)])
            up = F.interpolate(recon, size=big.shape[-2:], mode="bilinear", align_corners=False)
            target = torch.from_numpy(self.preview_batch["target"]).permute(0, 3, 1, 2).to(big.device)
            grid = torch.cat([torch.cat([up, big, target], dim=3)[i] for i in range(len(x))], dim=1)
            image = (grid.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        finally:
            self.pair.train(was)
        write_preview(self.t.root / "previews" / f"enhancer_{step:07d}.png", image, label=self.cfg.label_previews)
        self.writer.add_image("enhancer/preview", image, step, dataformats="HWC")

    def save(self, step: int) -> None:
        """Adam's moments, the weights, then the card's ``enhancer`` record (each file atomic)."""
        root, pair = self.t.root, self.pair
        atomic_write_bytes(root / ENHANCER_OPTIMIZER_FILE, st_save(adam_moments(pair, self.opt), {"step": str(step)}))
        weights = {k: v.detach().to("cpu").contiguous() for k, v in pair.state_dict().items()}
        atomic_write_bytes(root / ENHANCER_FILE, st_save(weights, pair.metadata()))
        card = read_card(root) or self.t.card
        record = {"arch": pair.arch.to_json(), "step": step, "base_step": pair.base_step, "loss": self.losses,
                  "facesets": list(self.t.facesets), "config": dataclasses.asdict(self.cfg),
                  "updated": datetime.now(UTC).isoformat(timespec="seconds")}
        card = dataclasses.replace(card, enhancer=record)
        atomic_write_bytes(root / STATE_FILE, (json.dumps(card.to_json(), indent=2) + "\n").encode())
        self.writer.flush()


def side_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, detail: float, vgg_weight: float,
              vgg: Any, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """The loss terms of one side: ``l1``, ``detail``, ``vgg`` (when on) and their ``total``."""
    weight = 1 + 3 * mask
    terms = {"l1": ((pred - target).abs() * weight).mean() / weight.mean()}
    if detail > 0:
        terms["detail"] = detail_loss(pred, target, mask)
    if vgg_weight > 0 and vgg is not None:
        size = pred.shape[-1]
        p = min(96, size)
        y0, x0 = (int(v) for v in rng.integers(size // 4, max(size // 4 + 1, 3 * size // 4 - p), 2))
        terms["vgg"] = vgg(pred[..., y0:y0 + p, x0:x0 + p], target[..., y0:y0 + p, x0:x0 + p])
    terms["total"] = terms["l1"] + detail * terms.get("detail", 0) + vgg_weight * terms.get("vgg", 0)
    return terms


def _perceptual(weight: float) -> Any:
    if weight <= 0:
        return None
    from masque.train.perceptual import PerceptualLoss

    return PerceptualLoss(layers=(("block1_relu2", 0.1), ("block2_relu2", 0.3)))


def _loader(stream: PairStream, workers: int) -> DataLoader:
    if workers <= 0:
        return DataLoader(stream, batch_size=None, num_workers=0)
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"  # see masque.train.data
    return DataLoader(stream, batch_size=None, num_workers=workers, worker_init_fn=_worker_init, prefetch_factor=4,
                      persistent_workers=True, multiprocessing_context=method)
