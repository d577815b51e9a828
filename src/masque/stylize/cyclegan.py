"""CycleGAN (Zhu, Park, Isola & Efros 2017): unpaired translation between two picture sets A and B.

Two ResNet generators (``G_ab``: A -> B, ``G_ba``: B -> A; c7s1, two stride-2 convs down, residual
blocks, two up, c7s1, tanh; instance norm), two 70x70 PatchGAN discriminators (C64-C128-C256-C512,
each ``ndf``-scaled), least-squares GAN losses, cycle-consistency (``|G_ba(G_ab(a)) - a|``, weight
``cycle``) and identity (``|G_ab(b) - b|``, weight ``identity * cycle``) losses, a 50-image pool of
past fakes for the discriminators, Adam(2e-4, 0.5, 0.999) with the learning rate held, then decayed
linearly to 0 over the second half of the steps.

A translation model is a folder: ``translate.safetensors`` (the four networks), ``translate_opt
.safetensors`` (Adam's moments, so a run resumes where it stopped), ``translate.json`` (the card:
kind, sizes, step, sets, held-out faces), ``previews/`` and TensorBoard ``logs/``. Pictures are
tensors ``(N, 3, S, S)`` in [-1, 1] inside; the API takes and returns RGB ``uint8``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from safetensors.torch import save as st_save
from torch import nn

from masque import __version__
from masque.atomic import atomic_write_bytes
from masque.errors import ConfigError, InputNotFoundError, ModelError
from masque.models.io import read_safetensors
from masque.stylize.checkpoint import load_moments, save_moments

FORMAT = "masque-translate-model"
CARD, WEIGHTS, OPTIM = "translate.json", "translate.safetensors", "translate_opt.safetensors"


@dataclass(frozen=True)
class CycleConfig:
    """Networks and training of one translation model (the card keeps it; a resumed run reuses it).

    Attributes:
        size: pictures' side in pixels. ngf, ndf: first-layer channels of generators, discriminators
            (the paper: 64). blocks: residual blocks (the paper: 9 at 256 px, 6 at 128).
        steps: total steps (one A and one B picture each); the lr decays linearly over the last half.
        cycle, identity: loss weights (the paper: 10 and 0.5). lr: Adam's. pool: past fakes kept.
        preview_every, save_every: steps between previews and checkpoints. hold_out: share of each
            set kept out of training, to measure on.
        upsample: ``resize`` (nearest-neighbour x2 then a 3x3 conv, Odena et al. 2016) or
            ``transpose`` (the paper's stride-2 transposed conv, whose uneven kernel overlap paints
            a checkerboard over the first thousands of steps; cards written before this option).
    """

    size: int = 96
    ngf: int = 32
    ndf: int = 32
    blocks: int = 6
    steps: int = 20000
    cycle: float = 10.0
    identity: float = 0.5
    lr: float = 2e-4
    pool: int = 50
    batch: int = 1
    preview_every: int = 200
    save_every: int = 200
    hold_out: float = 0.1
    seed: int = 0
    upsample: str = "resize"

    def __post_init__(self) -> None:
        if self.upsample not in UPSAMPLES:
            raise ConfigError(f"upsample must be one of {UPSAMPLES}, got {self.upsample!r}")


UPSAMPLES = ("resize", "transpose")


def _config_of(card: Mapping[str, Any]) -> CycleConfig:
    """The config a card records; cards from before ``upsample`` existed used transposed convs."""
    return CycleConfig(**{"upsample": "transpose", **card["config"]})


def _conv_in(cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> list[nn.Module]:
    pad: list[nn.Module] = [nn.ReflectionPad2d(k // 2)] if stride == 1 else []
    conv = nn.Conv2d(cin, cout, k, stride, padding=0 if stride == 1 else k // 2)
    return [*pad, conv, nn.InstanceNorm2d(cout), *([nn.ReLU(True)] if relu else [])]


class _Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_conv_in(c, c, 3), *_conv_in(c, c, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _up(cin: int, cout: int, how: str) -> list[nn.Module]:
    if how == "transpose":
        conv: list[nn.Module] = [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)]
    else:
        conv = [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
    return [*conv, nn.InstanceNorm2d(cout), nn.ReLU(True)]


class Generator(nn.Module):
    """The ResNet generator: ``(N, 3, S, S)`` in [-1, 1] -> same shape in [-1, 1] (S divisible by 4)."""

    def __init__(self, ngf: int = 32, blocks: int = 6, upsample: str = "resize") -> None:
        super().__init__()
        self.net = nn.Sequential(
            *_conv_in(3, ngf, 7), *_conv_in(ngf, 2 * ngf, 3, 2), *_conv_in(2 * ngf, 4 * ngf, 3, 2),
            *[_Block(4 * ngf) for _ in range(blocks)],
            *_up(4 * ngf, 2 * ngf, upsample), *_up(2 * ngf, ngf, upsample),
            nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN: ``(N, 3, S, S)`` -> ``(N, 1, S/8 - 2, S/8 - 2)`` real/fake scores (LSGAN: no sigmoid)."""

    def __init__(self, ndf: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = ndf
        for stride in (2, 2, 1):
            layers += [nn.Conv2d(c, 2 * c, 4, stride, 1), nn.InstanceNorm2d(2 * c), nn.LeakyReLU(0.2, True)]
            c *= 2
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGAN(nn.Module):
    """The four networks under the names the weights file uses: ``g_ab``, ``g_ba``, ``d_a``, ``d_b``."""

    def __init__(self, config: CycleConfig) -> None:
        super().__init__()
        self.g_ab, self.g_ba = (Generator(config.ngf, config.blocks, config.upsample),
                                Generator(config.ngf, config.blocks, config.upsample))
        self.d_a, self.d_b = PatchDiscriminator(config.ndf), PatchDiscriminator(config.ndf)


class ImagePool:
    """Shrivastava et al.'s history of fakes: half the time a past fake is shown instead of the new one."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng = size, rng
        self.items: list[torch.Tensor] = []

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        out = []
        for f in fakes.detach():
            if len(self.items) < self.size:
                self.items.append(f)
                out.append(f)
            elif self.rng.random() < 0.5:
                i = self.rng.randrange(self.size)
                out.append(self.items[i])
                self.items[i] = f
            else:
                out.append(f)
        return torch.stack(out)


def to_unit(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB ``uint8`` pictures -> ``(N, 3, size, size)`` float32 in [-1, 1] (resized, area)."""
    arr = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 127.5 - 1


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(N, 3, S, S)`` in [-1, 1] -> ``(N, S, S, 3)`` RGB ``uint8``."""
    return ((x.detach().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def split(n: int, hold_out: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(train, held out)`` of ``n`` pictures; the held-out share is every k-th, so it spans the set."""
    if n < 2 or hold_out <= 0:
        return list(range(n)), []
    k = max(2, round(1 / hold_out))
    held = list(range(seed % k, n, k))
    return [i for i in range(n) if i not in set(held)], held


@dataclass
class TrainReport:
    """Steps done (in total and in this run), seconds, last losses, whether Ctrl-C stopped it."""

    step: int
    steps_run: int
    seconds: float
    losses: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False


def read_card(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The card of a translation model folder.

    Raises:
        InputNotFoundError: no folder. ModelError: not a translation model (names what it is).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputNotFoundError(f"translation model not found: {root}; train one with masque translate train")
    if not (root / CARD).is_file():
        what = ("a style model (use masque style)" if (root / "style.json").is_file() else
                "a face-swap model (use masque convert)" if (root / "state.json").is_file() else "not a masque model")
        raise ModelError(f"{root} is {what}; masque translate needs a folder written by masque translate train "
                         f"(holding {CARD})")
    try:
        card = json.loads((root / CARD).read_text())
    except ValueError as exc:
        raise ModelError(f"{root / CARD} is damaged ({exc}); delete the folder and train again") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelError(f"{root / CARD} is not a masque translation model card")
    return card


def load_translator(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[CycleGAN, dict]:
    """The trained networks (eval mode) and the card of a translation model folder (see :func:`read_card`)."""
    card = read_card(folder)
    try:
        config = _config_of(card)
    except (KeyError, TypeError, ConfigError) as exc:
        raise ModelError(f"{Path(folder) / CARD} lacks a valid config ({exc})") from None
    model = CycleGAN(config)
    tensors, meta = read_safetensors(Path(folder) / WEIGHTS)
    if meta.get("format") != FORMAT:
        raise ModelError(f"{Path(folder) / WEIGHTS} is not a masque translation model's weights")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ModelError(f"{Path(folder) / WEIGHTS} does not fit its card ({str(exc)[:200]})") from None
    return model.to(device).eval(), card


def _save(root: Path, model: CycleGAN, opts: Mapping[str, torch.optim.Optimizer], card: dict[str, Any]) -> None:
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_moments(root / OPTIM, model, opts, FORMAT)
    atomic_write_bytes(root / WEIGHTS, st_save(weights, {"format": FORMAT, "step": str(card["step"])}))
    atomic_write_bytes(root / CARD, (json.dumps(card, indent=2) + "\n").encode())  # last: it marks the set complete


class CycleTrainer:
    """Trains (or resumes) a translation model in ``root`` from pictures of A and B.

    Args:
        root: the model folder; an existing one is resumed (its card's config wins over ``config``).
        pictures_a, pictures_b: RGB ``uint8`` pictures (aligned faces of a face set, or frames).
        config: used for a new model.
        sources: names of A and B for the card.
        align: ``(size, centering)`` when the pictures are a face set's aligned faces: the model is
            then applied face by face (:mod:`masque.stylize.translate`).

    Raises:
        ModelError: ``root`` holds another kind of masque model (style, face swap), or a damaged card.
    """

    def __init__(self, root: str | os.PathLike[str], pictures_a: Sequence[np.ndarray], pictures_b: Sequence[np.ndarray],
                 config: CycleConfig = CycleConfig(), sources: tuple[str, str] = ("A", "B"),
                 align: tuple[int, str] | None = None, device: str | torch.device = "cpu") -> None:
        self.root = Path(root)
        # a folder holding any masque model is read (and refused unless it is a translation model), never overwritten
        known = any((self.root / name).is_file() for name in (CARD, "style.json", "state.json"))
        self.card: dict[str, Any] = read_card(self.root) if known else {}
        self.config = _config_of(self.card) if self.card else config
        self.device = torch.device(device)
        self.step = int(self.card.get("step", 0))
        self.sources = sources
        self.align = self.card.get("align") or ({"size": align[0], "centering": align[1]} if align else None)
        cfg = self.config
        self.split = {side: split(len(p), cfg.hold_out, cfg.seed) for side, p in (("a", pictures_a), ("b", pictures_b))}
        self.data = {side: to_unit([p[i] for i in self.split[side][0]], cfg.size)
                     for side, p in (("a", pictures_a), ("b", pictures_b))}
        self.model = CycleGAN(cfg).to(self.device)
        if self.card:
            tensors, _ = read_safetensors(self.root / WEIGHTS)
            self.model.load_state_dict(tensors)
        m = self.model
        self.opts = {"g": torch.optim.Adam([*m.g_ab.parameters(), *m.g_ba.parameters()], cfg.lr, betas=(0.5, 0.999)),
                     "d": torch.optim.Adam([*m.d_a.parameters(), *m.d_b.parameters()], cfg.lr, betas=(0.5, 0.999))}
        if self.card:
            load_moments(self.root / OPTIM, m, self.opts)
        rng = random.Random(cfg.seed + self.step)
        self.pools = {"a": ImagePool(cfg.pool, rng), "b": ImagePool(cfg.pool, rng)}
        self.rng = np.random.default_rng(cfg.seed + self.step)
        self.losses: dict[str, float] = {}

    def lr_at(self, step: int) -> float:
        """The learning rate at ``step``: constant for the first half, then linearly to 0."""
        half = self.config.steps / 2
        return self.config.lr * min(1.0, max(0.0, (self.config.steps - step) / half))

    def batch(self, side: str) -> torch.Tensor:
        data = self.data[side]
        x = data[self.rng.integers(len(data), size=self.config.batch)]
        flip = torch.from_numpy(self.rng.random(len(x)) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x.to(self.device)

    def train_step(self) -> dict[str, float]:
        """One CycleGAN step (generators, then discriminators); returns the losses."""
        cfg, m = self.config, self.model
        a, b = self.batch("a"), self.batch("b")
        for opt in self.opts.values():
            for g in opt.param_groups:
                g["lr"] = self.lr_at(self.step)
        fake_b, fake_a = m.g_ab(a), m.g_ba(b)
        m.d_a.requires_grad_(False)
        m.d_b.requires_grad_(False)
        gan = ((m.d_b(fake_b) - 1) ** 2).mean() + ((m.d_a(fake_a) - 1) ** 2).mean()
        cycle = (m.g_ba(fake_b) - a).abs().mean() + (m.g_ab(fake_a) - b).abs().mean()
        ident = (m.g_ab(b) - b).abs().mean() + (m.g_ba(a) - a).abs().mean() if cfg.identity > 0 else torch.zeros(())
        g_loss = gan + cfg.cycle * cycle + cfg.cycle * cfg.identity * ident
        self.opts["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.opts["g"].step()
        m.d_a.requires_grad_(True)
        m.d_b.requires_grad_(True)
        pa, pb = self.pools["a"].query(fake_a), self.pools["b"].query(fake_b)
        d_loss = 0.5 * (((m.d_a(a) - 1) ** 2).mean() + (m.d_a(pa) ** 2).mean()
                        + ((m.d_b(b) - 1) ** 2).mean() + (m.d_b(pb) ** 2).mean())
        self.opts["d"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.opts["d"].step()
        self.step += 1
        terms = {"gan": gan, "cycle": cycle, "identity": ident, "d": d_loss, "g_total": g_loss}
        return {k: float(v.detach()) for k, v in terms.items()}

    def preview(self, count: int = 4) -> np.ndarray:
        """RGB ``uint8`` grid: rows of A, A->B, A->B->A, B, B->A, B->A->B (held-out pictures where there are)."""
        m, cells = self.model, []
        with torch.no_grad():
            for side, there, back in (("a", m.g_ab, m.g_ba), ("b", m.g_ba, m.g_ab)):
                x = self.data[side][:count].to(self.device)
                y = there(x)
                cells += [to_uint8(x), to_uint8(y), to_uint8(back(y))]
        return np.concatenate([np.concatenate(list(row), axis=1) for row in cells], axis=0)

    def save(self) -> None:
        cfg = self.config
        self.root.mkdir(parents=True, exist_ok=True)
        self.card = {"format": FORMAT, "version": __version__, "kind": "cyclegan", "config": asdict(cfg),
                     "step": self.step, "sources": list(self.sources), "losses": self.losses,
                     "held_out": {k: v[1] for k, v in self.split.items()}}
        if self.align is not None:
            self.card["align"] = self.align
        _save(self.root, self.model, self.opts, self.card)

    def run(self, steps: int | None = None, minutes: float | None = None,
            on_step: Callable[[int, int, dict[str, float]], None] | None = None) -> TrainReport:
        """Train until ``config.steps`` (or ``steps`` more, or ``minutes``); Ctrl-C saves and returns.

        Checkpoints every ``save_every`` steps and at the end; previews (labelled PNGs) under
        ``previews/`` and the losses in TensorBoard under ``logs/``.
        """
        from torch.utils.tensorboard import SummaryWriter

        from masque.train.preview import write_preview

        cfg = self.config
        target = cfg.steps if steps is None else min(cfg.steps, self.step + steps)
        writer = SummaryWriter(str(self.root / "logs"), purge_step=self.step or None)
        start, first, interrupted = time.perf_counter(), self.step, False
        try:
            while self.step < target:
                self.losses = self.train_step()
                for k, v in self.losses.items():
                    writer.add_scalar(f"loss/{k}", v, self.step)
                if on_step is not None:
                    on_step(self.step, target, self.losses)
                if self.step % cfg.preview_every == 0:
                    grid = self.preview()
                    write_preview(self.root / "previews" / f"step_{self.step:07d}.png", grid)
                    writer.add_image("preview", grid, self.step, dataformats="HWC")
                if self.step % cfg.save_every == 0:
                    self.save()
                if minutes is not None and time.perf_counter() - start > minutes * 60:
                    break
        except KeyboardInterrupt:
            interrupted = True  # save below, so that the same command resumes
        self.save()
        writer.close()
        return TrainReport(self.step, self.step - first, time.perf_counter() - start, self.losses, interrupted)


class Translator:
    """Apply one direction of a trained model to pictures: ``translate(rgb uint8) -> rgb uint8`` (same size)."""

    def __init__(self, model: CycleGAN, card: dict, to: str) -> None:
        if to not in ("a", "b"):
            raise ModelError(f"--to must be a or b, got {to!r}")
        self.net = model.g_ab if to == "b" else model.g_ba
        self.size = int(card["config"]["size"])

    @torch.inference_mode()
    def translate(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        out = to_uint8(self.net(to_unit([rgb], self.size).to(next(self.net.parameters()).device)))[0]
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC if w > self.size else cv2.INTER_AREA)
