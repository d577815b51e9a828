"""The training loop: shared encoder, one decoder per identity, resumable, interruptible.

Each step takes ``batch`` warped faces of A and ``batch`` of B, encodes all of them in one pass
through the shared encoder, decodes A's with decoder ``a`` and B's with decoder ``b``, and
minimises L1 + DSSIM against the unwarped faces (masked, eyes and mouth weighted) plus the mask
loss, with one Adam over all parameters.

Speed: batches come from DataLoader worker processes; on CUDA and on CPUs where bf16 measures
faster than fp32 (:func:`masque.models.device.cpu_bf16_pays`: AMD Zen 4, AMX) the forward and
backward run under bf16 autocast (fp16 + gradient scaling on older GPUs), in channels_last; on
CPU with bf16 the widest small-output convs run as one GEMM (:mod:`masque.models.gemm`), and
Adam is the fused single-pass kernel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masque import __version__
from masque.errors import ConfigError, ModelError
from masque.faceset import FaceSet
from masque.models import MODELS, SIDES, SwapModel, load_model
from masque.models.device import amp_dtype, autocast, describe, pick_device
from masque.models.gemm import enable_gemm
from masque.train import checkpoint as ckpt
from masque.train.data import AugmentConfig, BatchStream, FacePool, batch_loader, load_pool, mean_color, preview_batch
from masque.train.distributed import LOCAL, Group
from masque.train.losses import LossConfig, face_loss
from masque.train.objective import RecipeTerms
from masque.train.preview import preview_grid, write_preview
from masque.train.recipes import DEFAULT_RECIPE, RECIPES, Recipe, Schedule, lr_factor
from masque.train.threads import ThreadTuner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Options of :class:`Trainer`.

    Attributes:
        model: architecture (``original``, ``lightweight``, ``hires``).
        batch: faces per side per step (a step sees ``2 * batch`` examples).
        steps: stop when the model's step count reaches this (``None``: no limit).
        minutes: stop after this many minutes of this run (``None``: no limit).
        save_every / preview_every: steps between checkpoints / preview grids.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        lr, betas: Adam's (faceswap's defaults).
        coverage: central fraction of the 256 px face-set crop the model sees (faceswap's 87.5 %).
        mask: landmark mask the decoders learn (``extended``: face and forehead; ``components``).
        workers: augmentation processes (0: inline, for debugging).
        amp: mixed precision where the device supports it natively.
        channels_last: NHWC memory format for activations and weights.
        gemm: on CPU with bf16, run the convs with outputs of at most 8x8 as one GEMM.
        holdout_every: leave every N-th face of each set (by id) out of training, as
            ``masque evaluate`` expects (0: train on all).
        seed: weight initialisation and augmentation seed.
        preview_faces: rows of the preview grid.
        log_every: steps between loss read-outs (TensorBoard, progress).
        threads: CPU threads for the step; ``None`` measures all-cores against one thread
            every 200 steps and keeps the faster (see :mod:`masque.train.threads`).
        label_previews: watermark and sign preview PNGs as synthetic.
        recipe: the loss recipe (:mod:`masque.train.recipes`: ``classic``, ``perceptual``, ``gan``);
            ``None``: a resumed folder's own, else ``classic``.
        schedule: learning-rate warm-up and decay over the run's budget (``lr`` is the peak).
        balance: how strongly training draws favour each set's rare expressions (eyes closed,
            mouth wide open): 0 draws every face alike, 1 every eye x mouth state alike
            (:func:`masque.train.data.expression_weights`).
    """

    model: str = "original"
    batch: int = 16
    steps: int | None = None
    minutes: float | None = None
    save_every: int = 250
    preview_every: int = 100
    device: str = "auto"
    lr: float = 5e-5
    betas: tuple[float, float] = (0.5, 0.999)
    coverage: float = 0.875
    mask: str = "extended"
    workers: int = 1
    amp: bool = True
    channels_last: bool = True
    gemm: bool = True
    holdout_every: int = 10
    seed: int = 0
    preview_faces: int = 4
    log_every: int = 10
    threads: int | None = None
    label_previews: bool = True
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    recipe: str | None = None
    schedule: Schedule = field(default_factory=Schedule)
    balance: float = 0.5

    def __post_init__(self) -> None:
        if self.recipe is not None and self.recipe not in RECIPES:
            raise ConfigError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES.names())}")
        if self.model not in MODELS:
            raise ModelError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS.names())}")
        if not 0 <= self.balance <= 1:
            raise ConfigError(f"balance must be in [0, 1] (0: every face alike, 1: every expression alike); "
                              f"got {self.balance}")
        if self.batch < 1 or not 0.3 <= self.coverage <= 1.0:
            raise ConfigError(f"batch must be 1 or more and coverage in [0.3, 1]; got batch {self.batch}, "
                              f"coverage {self.coverage}")


@dataclass
class StepInfo:
    """What the loop reports after a step (losses as of the last read-out)."""

    step: int
    target: int | None
    examples_per_s: float
    losses: dict[str, float]
    lr: float
    elapsed: float


@dataclass
class TrainSummary:
    """What a :meth:`Trainer.run` did."""

    start_step: int
    step: int
    seconds: float
    examples_per_s: float
    losses: dict[str, float]
    history: list[tuple[int, float]]
    interrupted: bool
    resumed: bool


class Trainer:
    """Trains (or resumes training of) the model in ``model_dir`` on face sets A and B.

    Args:
        faceset_a, faceset_b: face set folders (``masque extract`` output) of person A and B.
        model_dir: the model folder; an existing model there is resumed.
        config: options; on resume, the stored architecture, coverage and mask are kept.
        group: this process's rank in a DDP group (:mod:`masque.train.distributed`; default: alone).

    Raises:
        ModelError: ``model_dir`` holds a model of another type, or a damaged one.
        FaceSetError, InputNotFoundError: a face set is missing, empty or of the wrong crop.
    """

    def __init__(self, faceset_a: str | os.PathLike[str], faceset_b: str | os.PathLike[str],
                 model_dir: str | os.PathLike[str], config: TrainConfig | None = None, group: Group = LOCAL) -> None:
        self.root = Path(model_dir)
        self.facesets = [str(Path(faceset_a).resolve()), str(Path(faceset_b).resolve())]
        config = config or TrainConfig()
        self.previous = ckpt.read_state(self.root) if self.root.is_dir() else None
        if self.previous is not None:
            config = self._resumed_config(config, self.previous)
        stored = (self.previous or {}).get("recipe", DEFAULT_RECIPE if self.previous else None)
        if config.recipe is None or stored is None or config.recipe == stored:
            config = dataclasses.replace(config, recipe=config.recipe or stored or DEFAULT_RECIPE)
        else:
            log.warning("resuming %s (trained with recipe %r) with recipe %r, as asked", self.root, stored,
                        config.recipe)
        self.config = config
        self.recipe: Recipe = RECIPES.create(config.recipe or DEFAULT_RECIPE)
        self.group = group
        self.device = group.device(pick_device(config.device))
        self.amp = amp_dtype(self.device) if config.amp else None

    def _resumed_config(self, config: TrainConfig, state: dict[str, Any]) -> TrainConfig:
        if state.get("model") != config.model:
            raise ModelError(f"{self.root} holds a {state.get('model')!r} model, not {config.model!r}; "
                             f"resume it with --model {state.get('model')} or train into another folder")
        align = state.get("align") or {}
        kept: dict[str, Any] = {"coverage": float(align.get("coverage", config.coverage)),
                                "mask": str(state.get("mask", config.mask))}
        # the background's share of the loss is the folder's own (models from before it: face only)
        background = float(((state.get("config") or {}).get("loss") or {}).get("background", 0.0))
        if config.loss.background != background:
            log.warning("resuming %s: keeping its loss background weight %g", self.root, background)
        kept["loss"] = dataclasses.replace(config.loss, background=background)
        changed = {k: v for k, v in kept.items() if k != "loss" and getattr(config, k) != v}
        if changed:
            log.warning("resuming %s: keeping its %s", self.root, ", ".join(f"{k}={v}" for k, v in changed.items()))
        if [str(p) for p in state.get("facesets", [])] != self.facesets:
            log.warning("resuming %s with other face sets than before (%s)", self.root, state.get("facesets"))
        return dataclasses.replace(config, **kept)

    # ---- setup ---------------------------------------------------------------------------
    def _load_data(self, size: int) -> tuple[tuple[FacePool, FacePool], tuple[FacePool, FacePool]]:
        """Training pools (held-out faces removed) and preview pools (held-out faces), per side."""
        every = self.config.holdout_every
        train, held = [], []
        for path in self.facesets:
            with FaceSet(path) as fs:
                n = len(fs)
            keep = [i for i in range(n) if every <= 0 or i % every != 0] or list(range(n))
            hold = [i for i in range(n) if every > 0 and i % every == 0] or keep
            # preview faces spread over the held-out ones: the same faces on every resume
            picks = np.linspace(0, len(hold) - 1, min(self.config.preview_faces, len(hold))).round().astype(int)
            train.append(load_pool(path, size, self.config.coverage, self.config.mask,  # type: ignore[arg-type]
                                   keep, self.config.balance))
            held.append(load_pool(path, size, self.config.coverage, self.config.mask,  # type: ignore[arg-type]
                                  [hold[i] for i in picks]))
        return (train[0], train[1]), (held[0], held[1])

    def _color_shift(self, pools: tuple[FacePool, FacePool]) -> tuple[np.ndarray, np.ndarray]:
        """Per-side RGB offsets: A's mean face colour moved onto B's (kept from the first run)."""
        if self.previous is not None and "color_shift" in self.previous:
            cs = self.previous["color_shift"]
            none = (0.0, 0.0, 0.0)  # a card may hold no shift (ModelCard's default): trained with none
            return np.asarray(cs.get("a", none), np.float64), np.asarray(cs.get("b", none), np.float64)
        return mean_color(pools[1]) - mean_color(pools[0]), np.zeros(3)

    def _build(self) -> tuple[SwapModel, torch.optim.Optimizer, int]:
        torch.manual_seed(self.config.seed)
        model = MODELS.create(self.config.model)
        step = 0
        if self.previous is not None:
            loaded, card = load_model(self.root, device="cpu")
            model.load_state_dict(loaded.state_dict())
            step = card.step
        fmt = torch.channels_last if self.config.channels_last else torch.contiguous_format
        model = model.to(self.device, memory_format=fmt).train()  # type: ignore[call-overload]  # stubs lack it
        fused = self.device.type in ("cpu", "cuda")  # one pass over the parameters instead of ~10
        opt = torch.optim.Adam(model.parameters(), lr=self.config.lr, betas=self.config.betas, fused=fused)
        if self.previous is not None and not ckpt.load_optimizer(self.root, model, opt):
            log.warning("%s has no optimizer state; Adam's moments restart", self.root)
        for group in opt.param_groups:  # the command line's learning rate wins over the stored one
            group["lr"], group["betas"] = self.config.lr, self.config.betas
        if self.config.gemm and self.device.type == "cpu" and self.amp == torch.bfloat16:
            x = torch.zeros(1, 3, model.input_size, model.input_size, device=self.device)
            enable_gemm(model, x, run=lambda: [model(x, side) for side in SIDES])
        return model, opt, step

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.amp)

    # ---- the loop --------------------------------------------------------------------------
    def run(self, on_step: Callable[[StepInfo], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> TrainSummary:
        """Train until ``config.steps`` or ``config.minutes`` is reached or ``should_stop()`` is true.

        A checkpoint is saved every ``save_every`` steps and at the end, also when the run ends
        by ``KeyboardInterrupt`` (which is then not re-raised: ``summary.interrupted`` is set).
        """
        cfg = self.config
        size = MODELS.create(cfg.model).input_size if self.previous is None else int(self.previous["input_size"])
        pools, held = self._load_data(size)
        shifts = self._color_shift(pools)
        start_step = int(self.previous["step"]) if self.previous else 0
        stream = BatchStream(pools, cfg.batch, size, cfg.coverage, shifts, cfg.augment,
                             seed=self.group.seed(cfg.seed + 7919 * start_step))
        loader = batch_loader(stream, cfg.workers, pin_memory=self.device.type == "cuda")
        batches = iter(loader)  # the worker starts now and prepares batches while the model is built
        model, opt, step = self._build()
        scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        faces_prev = [preview_batch(h, range(len(h)), size, cfg.coverage, s) for h, s in zip(held, shifts)]
        writer = summary_writer(self.root, step) if self.group.main else NoWriter()
        sync = self.group.average_gradients if self.group.distributed else None
        terms = RecipeTerms(self.recipe, cfg.coverage, self.device, cfg.lr, cfg.betas, cfg.seed, sync)
        if self.previous is not None:
            terms.load(self.root)
        ctx = _RunContext(self, model, opt, pools, shifts, faces_prev, writer, terms)
        try:
            return ctx.loop(batches, step, scaler, on_step, should_stop)
        finally:
            writer.close()
            del batches, loader

    def state(self, model: SwapModel, step: int, pools: tuple[FacePool, FacePool],
              shifts: tuple[np.ndarray, np.ndarray], extra: dict[str, Any]) -> dict[str, Any]:
        """The ``state.json`` content at ``step``."""
        cfg = self.config
        config = dataclasses.asdict(cfg)
        config["betas"] = list(cfg.betas)
        return {
            "model": model.name, "step": step, "input_size": model.input_size, "arch": model.arch.to_json(),
            "align": {"centering": "face", "coverage": cfg.coverage, "size": model.input_size},
            "mask": cfg.mask, "facesets": self.facesets,
            "faces": {"a": len(pools[0]), "b": len(pools[1])}, "holdout_every": cfg.holdout_every,
            "color_shift": {"a": [round(float(v), 6) for v in shifts[0]], "b": [round(float(v), 6) for v in shifts[1]]},
            "device": describe(self.device), "precision": str(self.amp or torch.float32).replace("torch.", ""),
            "params": model.param_count(), "flops_per_example": model.flops_per_example(),
            "config": config, "recipe": cfg.recipe, "masque_version": __version__,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            # the enhancer stage's record (masque.train.enhancer) outlives further base training
            **{k: v for k, v in (self.previous or {}).items() if k == "enhancer"}, **extra,
        }


class _RunContext:
    """The mutable part of one :meth:`Trainer.run`: model, optimiser, counters, writers."""

    def __init__(self, trainer: Trainer, model: SwapModel, opt: torch.optim.Optimizer,
                 pools: tuple[FacePool, FacePool], shifts: tuple[np.ndarray, np.ndarray],
                 faces_prev: list[np.ndarray], writer: Any, terms: RecipeTerms) -> None:
        self.t, self.model, self.opt, self.pools, self.shifts = trainer, model, opt, pools, shifts
        self.terms = terms
        self.faces_prev, self.writer = faces_prev, writer
        self.cfg = trainer.config
        self.forward = trainer.group.forward(model, trainer.device)  # DDP in a group: gradients averaged
        self.per_step = 2 * self.cfg.batch * trainer.group.world  # examples per step, all ranks
        self.examples = int((trainer.previous or {}).get("examples", 0))
        self.losses: dict[str, float] = dict((trainer.previous or {}).get("loss", {}))
        self.history: list[tuple[int, float]] = []
        self.pending: list[dict[str, torch.Tensor]] = []
        self.begin = self.window_t = self.rate = 0.0
        self.window_steps = 0
        self.start_step = 0

    def loop(self, batches: Any, step: int, scaler: torch.amp.GradScaler, on_step: Callable[[StepInfo], None] | None,
             should_stop: Callable[[], bool] | None) -> TrainSummary:
        cfg, start_step = self.cfg, step
        self.begin = self.window_t = time.perf_counter()
        self.window_steps, self.rate, self.pending = 0, 0.0, []
        deadline = self.begin + cfg.minutes * 60 if cfg.minutes is not None else math.inf
        self.start_step = start_step
        tuner, interrupted = self.thread_tuner(), False
        try:
            while (cfg.steps is None or step < cfg.steps) and time.perf_counter() < deadline:
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
                batch = next(batches)
                if tuner is not None:
                    tuner.before_step()
                t0 = time.perf_counter()
                self.set_lr(step)
                self.pending.append(self.step(batch, scaler))
                if tuner is not None:
                    tuner.after_step(time.perf_counter() - t0)
                step += 1
                self.after_step(step, on_step)
        except self.t.group.stop_errors():  # Ctrl-C; in a group, also a rank gone
            interrupted = True
        if self.pending:
            self.read_out(step)
        seconds = time.perf_counter() - self.begin
        if step != start_step:
            self.save(step)
            if step % cfg.preview_every != 0:
                self.preview(step)
        done = step - start_step
        return TrainSummary(start_step, step, seconds, self.per_step * done / seconds if seconds > 0 else 0.0,
                            dict(self.losses), self.history, interrupted, self.t.previous is not None)

    def after_step(self, step: int, on_step: Callable[[StepInfo], None] | None) -> None:
        """Count, read losses out, report, preview and save on their schedules."""
        cfg = self.cfg
        self.examples += self.per_step
        self.window_steps += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            now = time.perf_counter()
            self.rate = self.per_step * self.window_steps / max(now - self.window_t, 1e-9)
            self.window_t, self.window_steps = now, 0
            self.read_out(step)
        if on_step is not None:
            on_step(StepInfo(step, cfg.steps, self.rate, dict(self.losses), self.opt.param_groups[0]["lr"],
                             time.perf_counter() - self.begin))
        if step % cfg.preview_every == 0:
            self.preview(step)
        if step % cfg.save_every == 0:
            self.save(step)

    def set_lr(self, step: int) -> None:
        """The schedule's learning rate for model step ``step`` (progress: steps or minutes, whichever is further)."""
        cfg = self.cfg
        progress = 0.0
        if cfg.steps is not None and cfg.steps > self.start_step:
            progress = (step - self.start_step) / (cfg.steps - self.start_step)
        if cfg.minutes is not None:
            progress = max(progress, (time.perf_counter() - self.begin) / (cfg.minutes * 60))
        lr = cfg.lr * lr_factor(cfg.schedule, step, progress)
        for group in self.opt.param_groups:
            group["lr"] = lr

    def thread_tuner(self) -> ThreadTuner | None:
        """A tuner on CPU when ``threads`` is ``None``; a fixed count otherwise."""
        if self.t.device.type != "cpu":
            return None
        if self.cfg.threads is not None:
            torch.set_num_threads(max(1, self.cfg.threads))
            return None
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return ThreadTuner([cores, 1]) if cores > 1 else None

    def step(self, batch: dict[str, torch.Tensor], scaler: torch.amp.GradScaler) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch from :func:`masque.train.data.make_batch`."""
        dev, b = self.t.device, self.cfg.batch
        nb = dev.type == "cuda"

        def nchw(t: torch.Tensor) -> torch.Tensor:
            t = t.to(dev, non_blocking=nb).permute(0, 3, 1, 2)  # NHWC memory: channels_last for free
            return t if self.cfg.channels_last else t.contiguous()

        x, target, aux = nchw(batch["warped"]), nchw(batch["target"]), nchw(batch["aux"])
        mask, weight = aux[:, :1] * (1 / 255), aux[:, 1:2]
        with self.t._autocast():
            outs = self.forward(x, b)
        losses: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=dev)
        for i, (side, (rgb, mask_pred)) in enumerate(zip(SIDES, outs)):
            part = slice(i * b, (i + 1) * b)
            terms = face_loss(rgb, mask_pred, target[part], mask[part], weight[part], self.cfg.loss)
            total = total + terms["total"]
            losses.update({f"{k}_{side}": v.detach() for k, v in terms.items()})
        if self.terms.active:  # the recipe's terms (nothing to do for classic)
            extra = self.terms.generator(outs, x, target, mask, weight, self.t._autocast())
            total = total + extra.pop("extra")
            losses.update(extra)
        self.opt.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(self.opt)
        scaler.update()
        losses.update(self.terms.after_step(self.opt.param_groups[0]["lr"]))
        return losses

    def read_out(self, step: int) -> None:
        """Average the pending per-step losses (one device sync), log them to TensorBoard."""
        pending, rate, self.pending = self.pending, self.rate, []
        keys = pending[0].keys()
        means = torch.stack([torch.stack([p[k] for p in pending]).float().mean() for k in keys]).tolist()
        self.losses = {k: round(v, 6) for k, v in zip(keys, means)}
        self.history.append((step, self.losses["total_a"] + self.losses["total_b"]))
        for k, v in self.losses.items():
            self.writer.add_scalar(f"loss/{k}", v, step)
        self.writer.add_scalar("speed/examples_per_s", rate, step)
        self.writer.add_scalar("lr", self.opt.param_groups[0]["lr"], step)

    def preview(self, step: int) -> None:
        if not self.t.group.main:
            return
        grid = preview_grid(self.model, self.faces_prev[0], self.faces_prev[1], self.t.device, self.t._autocast())
        write_preview(self.t.root / "previews" / f"step_{step:07d}.png", grid, label=self.cfg.label_previews)
        self.writer.add_image("preview", grid, step, dataformats="HWC")

    def save(self, step: int) -> None:
        if not self.t.group.main:
            return
        extra = {"examples": self.examples, "loss": self.losses}
        self.terms.save(self.t.root, step)  # before the card: a card always matches complete files
        ckpt.save_checkpoint(self.t.root, self.model, self.opt, self.t.state(self.model, step, self.pools,
                                                                             self.shifts, extra))
        self.writer.flush()


class NoWriter:
    """The TensorBoard writer of ranks other than 0: they log nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def summary_writer(root: Path, step: int, logs: str = "logs") -> Any:
    """A TensorBoard writer on ``root/logs``; events after ``step`` from an interrupted run are dropped.

    Every trainer logs through it (swap model, enhancer under ``logs/enhancer``, detector, fast style).
    """
    from torch.utils.tensorboard import SummaryWriter

    (root / logs).mkdir(parents=True, exist_ok=True)
    return SummaryWriter(str(root / logs), purge_step=step if step > 0 else None)
