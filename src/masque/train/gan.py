"""Adversarial training (faceswap-GAN): a PatchGAN discriminator per side, least-squares GAN with mixup.

Each discriminator sees a face together with the warped input it was made from (6 channels, as
faceswap-GAN's), and answers per 8x8 patch (for a 64 px face) how real it looks. The fake face
is the decoder's output pasted into the target with the decoder's own mask, so the adversarial
gradient reaches the mask too. Training is faceswap-GAN's "mixup LSGAN": the discriminator
regresses ``lam`` on ``lam * real + (1 - lam) * fake`` with ``lam ~ Beta(0.2, 0.2)`` per
example, the generator pushes its fakes toward 1.

Also here: the edge loss (L1 of image gradients, under the eyes-and-mouth weight map) and the
total variation of the mask. Discriminators and their Adam state are saved beside the model as
``discriminators.safetensors`` (never pickle) and resumed with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save as st_save
from torch import nn

from masque.atomic import atomic_write_bytes
from masque.errors import ModelError
from masque.models.io import read_safetensors

__all__ = ["ADVERSARY_FILE", "Adversary", "PatchDiscriminator", "edge_loss", "total_variation"]

#: the discriminators' weights and Adam moments in a model folder
ADVERSARY_FILE = "discriminators.safetensors"
_FORMAT = "masque-discriminators-1"


class PatchDiscriminator(nn.Module):
    """PatchGAN: 4x4 stride-2 convs (LeakyReLU 0.2, instance norm past the first), then a 3x3 conv to one map.

    Input ``(N, 6, S, S)`` (face and warped input, RGB [0, 1]); output ``(N, 1, S/8, S/8)`` scores.
    """

    def __init__(self, filters: tuple[int, ...] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 6
        for i, f in enumerate(filters):
            layers.append(nn.Conv2d(cin, f, 4, 2, 1))
            if i > 0:
                layers.append(nn.InstanceNorm2d(f, affine=True))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = f
        layers.append(nn.Conv2d(cin, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, face: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([face, cond], dim=1) * 2 - 1)


class Adversary:
    """The two discriminators (``a``, ``b``) and their Adam, with the recipe's losses.

    Args:
        device: where they run.
        lr, betas: their Adam's (the generator's rate is a good default).
        seed: initialisation seed (independent of the swap model's).
        sync: in a training group, averages the discriminators' gradients across ranks before each
            update (:meth:`masque.train.distributed.Group.average_gradients`), so they stay identical.
    """

    def __init__(self, device: torch.device, lr: float, betas: tuple[float, float], seed: int = 0,
                 sync: Callable[[nn.Module], None] | None = None) -> None:
        # the same seed on every rank of a training group: the discriminators start identical there
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            self.nets = nn.ModuleDict({side: PatchDiscriminator() for side in ("a", "b")}).to(device)
        self.opt = torch.optim.Adam(self.nets.parameters(), lr=lr, betas=betas)
        self.device, self.sync = device, sync

    def generator_loss(self, side: str, fake: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """LSGAN generator term: ``mean((D(fake) - 1)^2)`` (float32 scalar; D's weights get no gradient)."""
        net = self.nets[side]
        net.requires_grad_(False)
        try:
            return (net(fake.float(), cond.float()) - 1).pow(2).mean()
        finally:
            net.requires_grad_(True)

    def step(self, batches: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
             lr: float) -> dict[str, torch.Tensor]:
        """One mixup-LSGAN update of both discriminators.

        Args:
            batches: per side, ``(real, fake, cond)`` ``(N, 3, S, S)`` RGB [0, 1] (``fake`` detached here).
            lr: learning rate of this step (the generator's schedule).

        Returns:
            ``{"d_a", "d_b"}`` detached losses.
        """
        for group in self.opt.param_groups:
            group["lr"] = lr
        total = torch.zeros((), device=self.device)
        out: dict[str, torch.Tensor] = {}
        for side, (real, fake, cond) in batches.items():
            lam = torch.distributions.Beta(0.2, 0.2).sample((len(real), 1, 1, 1)).to(real.device)
            mixed = lam * real.float() + (1 - lam) * fake.detach().float()
            loss = (self.nets[side](mixed, cond.float()) - lam).pow(2).mean()
            total = total + loss
            out[f"d_{side}"] = loss.detach()
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        if self.sync is not None:
            self.sync(self.nets)
        self.opt.step()
        return out

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, model_dir: str | os.PathLike[str], step: int) -> Path:
        """Write weights and Adam moments to ``model_dir / ADVERSARY_FILE`` atomically."""
        tensors = {f"weights.{k}": v.detach().cpu().contiguous() for k, v in self.nets.state_dict().items()}
        names = {id(p): n for n, p in self.nets.named_parameters()}
        for param, st in self.opt.state.items():
            for key, value in st.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"adam.{names[id(param)]}.{key}"] = value.detach().cpu().reshape(value.shape).contiguous()
        meta = {"format": _FORMAT, "step": str(step), "lr": json.dumps(self.opt.param_groups[0]["lr"])}
        path = Path(model_dir) / ADVERSARY_FILE
        atomic_write_bytes(path, st_save(tensors, meta))
        return path

    def load(self, model_dir: str | os.PathLike[str]) -> bool:
        """Restore from ``model_dir / ADVERSARY_FILE``; ``False`` when the folder has none (fresh start).

        Raises:
            ModelError: the file is a pickle, damaged, or of other discriminators.
        """
        path = Path(model_dir) / ADVERSARY_FILE
        if not path.exists():
            return False
        tensors, meta = read_safetensors(path)
        if meta.get("format") != _FORMAT:
            raise ModelError(f"{path} is not masque's discriminators file; delete it to train new discriminators")
        weights = {k[len("weights."):]: v for k, v in tensors.items() if k.startswith("weights.")}
        try:
            self.nets.load_state_dict(weights)
        except RuntimeError as exc:
            raise ModelError(f"{path} does not fit the discriminators ({exc}); delete it to start them "
                             "afresh") from None
        index = {n: i for i, (n, _) in enumerate(self.nets.named_parameters())}
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("adam."):
                name, _, field = key[len("adam."):].rpartition(".")
                if name not in index:
                    raise ModelError(f"{path} has Adam state for an unknown parameter {name!r}; delete it")
                state.setdefault(index[name], {})[field] = value.to(self.device)
        sd = self.opt.state_dict()
        sd["state"] = state
        self.opt.load_state_dict(sd)
        return True


def edge_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted L1 of the horizontal and vertical differences of ``pred`` and ``target``.

    Args:
        pred, target: ``(N, 3, S, S)`` RGB, already masked.
        weight: ``(N, 1, S, S)`` region weights (eyes count 3x, mouth 2x: sharp edges where it shows).
    """
    pred, target = pred.float(), target.float()
    dx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    wx, wy = weight[..., :, 1:], weight[..., 1:, :]
    return ((dx.abs() * wx).sum() + (dy.abs() * wy).sum()) / ((wx.sum() + wy.sum()) * pred.shape[1]).clamp_min(1e-8)


def total_variation(mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels of ``(N, 1, S, S)`` maps (float32 scalar)."""
    mask = mask.float()
    return (mask[..., :, 1:] - mask[..., :, :-1]).abs().mean() + (mask[..., 1:, :] - mask[..., :-1, :]).abs().mean()
