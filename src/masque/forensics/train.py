"""``masque detect train``: Self-Blended Images training of the fake detector on real faces only.

Each batch is half real faces and half their own self-blended fakes (:mod:`masque.forensics.sbi`),
both through the same post-processing. The loss is a binary cross-entropy on the global logit
plus one on the logit map against the blend mask, so the network is told where the blend is, not
only that there is one: it learns faster and its map is a heat map. The weights written as the
detector are an exponential moving average of the training weights (``ema``): single checkpoints of
this small network on a few people swing from one step to the next (a held-out fake set's AUC went
from 1.0 to 0.0 between two checkpoints of one run), and the average smooths that out. Resumable
(the average, the training weights, Adam state and step count in the output folder), TensorBoard
logs in ``DETECTOR/logs``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from masque.atomic import atomic_path
from masque.errors import ConfigError, NoFaceFoundError
from masque.forensics.calibrate import calibrate, split_validation
from masque.forensics.faces import FaceCrop
from masque.forensics.net import WEIGHTS_NAME, DetectorCard, DetectorNet, load_detector, save_detector, to_tensor
from masque.forensics.sbi import common_augment, make_fake

OPTIMIZER_NAME = "optimizer.safetensors"
RAW_NAME = "detector_raw.safetensors"  # the training weights, when the detector is their average


@dataclass(frozen=True)
class DetectTrainConfig:
    """How a detector trains.

    Attributes:
        steps: total steps (a resumed run continues up to it).
        minutes: stop after this many minutes of this run (0: no limit), saving first.
        batch: faces per step, half real and half self-blended.
        lr: Adam learning rate (cosine decay to 5% over ``steps``).
        width: first-stage channels of a new network.
        size: crop side of a new network.
        map_weight: weight of the heat-map loss beside the global loss.
        save_every: steps between checkpoints.
        seed: random seed; step ``n`` of any run draws from ``seed + n``.
        validation: share of each training video's frames (its last ones) kept out of training to
            calibrate the scores and pick the threshold on, with their self-blended fakes.
        warp: share of the fakes that are self-warped (:func:`masque.forensics.sbi.self_warp`: the
            face moved through a mesh warp, as reenactment does) instead of self-blended.
        ema: decay per step of the exponential moving average of the weights that is saved as the
            detector (0: the training weights themselves). Early steps use ``(1 + n) / (10 + n)``
            when that is smaller, so the average does not drag the random initialisation along.
    """

    steps: int = 3000
    minutes: float = 0.0
    batch: int = 32
    lr: float = 2e-3
    width: int = 16
    size: int = 128
    map_weight: float = 0.5
    save_every: int = 200
    seed: int = 0
    validation: float = 0.15
    warp: float = 0.0
    ema: float = 0.998

    def __post_init__(self) -> None:
        if (self.steps < 1 or self.batch < 2 or self.batch % 2 or self.size % 16 or self.width < 4
                or not 0 <= self.validation < 1 or not 0 <= self.warp <= 1 or not 0 <= self.ema < 1):
            raise ConfigError(f"detector training needs steps >= 1, an even batch >= 2, a size divisible by 16 and "
                              f"width >= 4, a validation share in [0, 1), a warp share in [0, 1] and an EMA decay "
                              f"in [0, 1); got steps={self.steps}, batch={self.batch}, size={self.size}, "
                              f"width={self.width}, validation={self.validation}, warp={self.warp}, ema={self.ema}")


@dataclass(frozen=True)
class DetectStep:
    """What one step reports to ``on_step``."""

    step: int
    target: int
    loss: float
    accuracy: float
    elapsed: float


def make_batch(crops: list[FaceCrop], batch: int, rng: np.random.Generator,
               warp: float = 0.0) -> tuple[torch.Tensor, ...]:
    """``(images, labels, map targets)``: ``batch // 2`` reals, then the self-made fake of each.

    A fake is self-blended, or self-warped with probability ``warp`` (:func:`masque.forensics.sbi.make_fake`).

    Each fake is made from the same face as the real beside it and shares its framing (a random
    shift, scale and flip of the whole crop), as in the SBI paper's pairs: identity, pose and
    framing then say nothing about the label, only the blend does. Images ``(B, 3, S, S)`` float
    in [0, 1]; labels ``(B,)`` (1 = fake); map targets ``(B, S/8, S/8)`` (the blend mask averaged
    over each cell, zeros for reals).
    """
    half = batch // 2
    size = crops[0].image.shape[0]
    cells = size // 8
    reals, fakes, maps = [], [], []
    for _ in range(half):
        c = crops[int(rng.integers(len(crops)))]
        fake, mask = make_fake(c.image, c.landmarks, rng, warp)
        mat = _frame_jitter(size, rng)
        real, fake, mask = (cv2.warpAffine(x, mat, (size, size), flags=cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_REFLECT101) for x in (c.image, fake, mask))
        reals.append(common_augment(real, rng))
        fakes.append(common_augment(fake, rng))
        maps.append(cv2.resize(mask, (cells, cells), interpolation=cv2.INTER_AREA))
    labels = torch.cat([torch.zeros(half), torch.ones(half)])
    target = np.concatenate([np.zeros((half, cells, cells), np.float32), np.stack(maps)])
    return to_tensor(reals + fakes), labels, torch.from_numpy(target)


def _frame_jitter(size: int, rng: np.random.Generator) -> np.ndarray:
    """A random reframing of a crop: up to 6% shift, 0.9-1.1 scale, 5 degrees, a mirror half the time."""
    mat = np.asarray(cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-5, 5), rng.uniform(0.9, 1.1)),
                     np.float64)
    mat[:, 2] += rng.uniform(-0.06, 0.06, 2) * size
    if rng.random() < 0.5:
        mat[0] = -mat[0]
        mat[0, 2] += size
    return mat


def detector_loss(logit: torch.Tensor, logit_map: torch.Tensor, labels: torch.Tensor, maps: torch.Tensor,
                  map_weight: float) -> torch.Tensor:
    """Global BCE plus ``map_weight`` times the per-cell BCE against the blend mask."""
    return (F.binary_cross_entropy_with_logits(logit, labels)
            + map_weight * F.binary_cross_entropy_with_logits(logit_map, maps))


def train_detector(crops: list[FaceCrop], out_dir: str | Path, config: DetectTrainConfig | None = None,
                   sources: tuple[str, ...] = (), on_step: Callable[[DetectStep], None] | None = None,
                   validation: list[FaceCrop] | None = None) -> DetectorCard:
    """Train (or resume) the detector in ``out_dir`` on ``crops``; returns the saved card.

    The last ``config.validation`` of each video's frames are kept out of training (or, given,
    ``validation`` faces are used instead and all of ``crops`` trained on); at the end the scores
    are calibrated on them and their self-blended fakes and the threshold chosen
    (:func:`masque.forensics.calibrate.calibrate`), both written into the card. A detector already
    at ``config.steps`` is only calibrated.

    Raises:
        NoFaceFoundError: ``crops`` is empty.
        ConfigError: ``crops`` are not of the size of the network being resumed.
    """
    config = config or DetectTrainConfig()
    if not crops:
        raise NoFaceFoundError("no face was found in the training inputs; give real footage, photos or face sets "
                               "with visible faces")
    out = Path(out_dir)
    crops, val = (crops, validation) if validation is not None else split_validation(crops, config.validation)
    net, avg, card = _start(out, config, sources)
    if crops[0].image.shape[0] != card.size:
        raise ConfigError(f"faces are {crops[0].image.shape[0]} px but the detector in {out} takes {card.size} px")
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    _load_optimizer(out, opt)
    from masque.train.trainer import summary_writer

    writer = summary_writer(out, card.step)
    start, step = time.monotonic(), card.step
    pool = ThreadPoolExecutor(1)  # the next batch is built (OpenCV, GIL released) while torch trains

    def batch_for(n: int) -> Future[tuple[torch.Tensor, ...]]:  # step n's batch: its own seed, so resumes repeat it
        return pool.submit(make_batch, crops, config.batch, np.random.default_rng(config.seed + n), config.warp)

    pending = batch_for(step)
    net.train()
    try:
        while step < config.steps:
            images, labels, maps = pending.result()
            step += 1
            if step < config.steps:
                pending = batch_for(step)
            for group in opt.param_groups:
                group["lr"] = _lr(config, step)
            logit, logit_map = net(images)
            loss = detector_loss(logit, logit_map, labels, maps, config.map_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            _update_average(avg, net, config.ema, step)
            loss_value = float(loss.detach())
            acc = float(((logit > 0).float() == labels).float().mean())
            writer.add_scalar("loss", loss_value, step)
            writer.add_scalar("accuracy", acc, step)
            if on_step:
                on_step(DetectStep(step, config.steps, loss_value, acc, time.monotonic() - start))
            timed_out = config.minutes > 0 and time.monotonic() - start > 60 * config.minutes
            if step % config.save_every == 0 or step == config.steps or timed_out:
                card = replace(card, step=step)
                _save(out, net, avg, opt, card)
            if timed_out:
                break
    finally:
        pool.shutdown(cancel_futures=True)
        writer.close()
    card = replace(card, step=step)
    if val:
        card = _calibrated(out, net, avg, opt, card, val, config.seed)
    _save(out, net, avg, opt, card)
    return card


def _calibrated(out: Path, net: DetectorNet, avg: DetectorNet, opt: torch.optim.Optimizer, card: DetectorCard,
                val: list[FaceCrop], seed: int) -> DetectorCard:
    """``card`` with the calibration, threshold and validation metrics of the detector as it is now."""
    from masque.forensics.detect import FakeDetector

    _save(out, net, avg, opt, replace(card, calibration=(1.0, 0.0)))
    detector = FakeDetector(out)
    calib, threshold, metrics = calibrate(lambda x: detector.score(x, raw=True)[0], val, seed + 10**6)
    return replace(card, calibration=calib, threshold=threshold, metrics={**card.metrics, **metrics})


def _lr(config: DetectTrainConfig, step: int) -> float:
    warm = min(1.0, step / 50)  # a short warm-up: BatchNorm statistics settle before big steps
    return config.lr * warm * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, step / config.steps))))


def _start(out: Path, config: DetectTrainConfig,
           sources: tuple[str, ...]) -> tuple[DetectorNet, DetectorNet, DetectorCard]:
    """``(training network, its average, card)``: resumed from ``out``, or new.

    The detector file holds the average; the training weights are in :data:`RAW_NAME` beside it
    (a folder trained without an average has none: its detector is the training weights, and an
    average started now starts from them).
    """
    if (out / WEIGHTS_NAME).is_file():
        avg, card = load_detector(out)
        net = load_detector(out / RAW_NAME)[0] if (out / RAW_NAME).is_file() else copy.deepcopy(avg)
        return net, avg, replace(card, sources=tuple(dict.fromkeys(card.sources + sources)), warp=config.warp,
                                 ema=config.ema)
    torch.manual_seed(config.seed)
    net = DetectorNet(config.width)
    return net, copy.deepcopy(net).eval(), DetectorCard(width=config.width, size=config.size, sources=sources,
                                                        warp=config.warp, ema=config.ema)


@torch.no_grad()
def _update_average(avg: DetectorNet, net: DetectorNet, decay: float, step: int) -> None:
    """One step of the moving average of every weight and BatchNorm statistic (counters copied)."""
    d = min(decay, (1 + step) / (10 + step))
    for a, p in zip(avg.state_dict().values(), net.state_dict().values(), strict=True):
        if a.is_floating_point():
            a.lerp_(p, 1 - d)
        else:
            a.copy_(p)


def _save(out: Path, net: DetectorNet, avg: DetectorNet, opt: torch.optim.Optimizer, card: DetectorCard) -> None:
    """The detector (the average, or the training weights when ``card.ema`` is 0), the training weights, Adam."""
    from safetensors.torch import save_file

    net.eval()
    if card.ema > 0:
        save_detector(out / RAW_NAME, net, replace(card, ema=0.0))  # the training weights, to resume from
        save_detector(out / WEIGHTS_NAME, avg, card)
    else:
        save_detector(out / WEIGHTS_NAME, net, card)
        for stale in (out / RAW_NAME, (out / RAW_NAME).with_suffix(".json")):  # else a later resume would read it
            stale.unlink(missing_ok=True)
    net.train()
    tensors: dict[str, torch.Tensor] = {}
    steps: dict[str, float] = {}
    for i, (_, state) in enumerate(opt.state_dict()["state"].items()):
        for key in ("exp_avg", "exp_avg_sq"):
            tensors[f"{i}.{key}"] = state[key].contiguous()
        steps[str(i)] = float(state["step"])
    with atomic_path(out / OPTIMIZER_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"steps": json.dumps(steps)})


def _load_optimizer(out: Path, opt: torch.optim.Optimizer) -> None:
    from safetensors import safe_open

    path = out / OPTIMIZER_NAME
    if not path.is_file():
        return
    with safe_open(str(path), framework="pt") as f:
        steps = json.loads((f.metadata() or {}).get("steps", "{}"))
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, p in enumerate(params):
        if f"{i}.exp_avg" in tensors and tensors[f"{i}.exp_avg"].shape == p.shape:
            opt.state[p] = {"step": torch.tensor(steps.get(str(i), 0.0)), "exp_avg": tensors[f"{i}.exp_avg"],
                            "exp_avg_sq": tensors[f"{i}.exp_avg_sq"]}
