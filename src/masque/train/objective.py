"""What a recipe adds to a training step: perceptual, identity, adversarial, edge and mask-TV terms.

:class:`RecipeTerms` is built once per run from the :class:`~masque.train.recipes.Recipe`; the
trainer calls :meth:`RecipeTerms.generator` inside its step (after the reconstruction loss,
before the backward pass) and :meth:`RecipeTerms.after_step` after the optimiser step (the
discriminators' update). For ``classic`` it holds nothing and both calls return at once, so the
classic step is unchanged.

The costly networks (VGG19, dlib's ResNet, the discriminators) see only the first
``recipe.faces`` faces of each side's batch: their gradients are dense (every pixel gets one), so
a few faces per step carry the signal, and the step's cost stays bounded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence

import torch
from torch import nn

from masque.models import SIDES
from masque.train.gan import Adversary, edge_loss, total_variation
from masque.train.recipes import Recipe

log = logging.getLogger(__name__)


class RecipeTerms:
    """The extra loss terms of ``recipe`` and the state they need (networks, discriminators).

    Args:
        recipe: the recipe.
        coverage: the model crop's ``face`` coverage.
        device: where the step runs.
        lr, betas: the generator's Adam settings (the discriminators use the same).
        seed: the run's seed.
    """

    def __init__(self, recipe: Recipe, coverage: float, device: torch.device, lr: float,
                 betas: tuple[float, float], seed: int = 0, sync: Callable[[nn.Module], None] | None = None) -> None:
        self.recipe, self.device = recipe, device
        self.perceptual = self.identity = self.adversary = None
        self.pending: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        if recipe.perceptual > 0:
            from masque.train.perceptual import PerceptualLoss

            self.perceptual = PerceptualLoss().to(device)
        if recipe.identity > 0:
            from masque.train.perceptual import IdentityLoss

            self.identity = IdentityLoss(coverage).to(device)
        if recipe.adversarial > 0:
            self.adversary = Adversary(device, lr, betas, seed, sync)

    @property
    def active(self) -> bool:
        return self.perceptual is not None or self.identity is not None or self.adversary is not None \
            or self.recipe.edge > 0 or self.recipe.mask_tv > 0

    def generator(self, outs: Sequence[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, target: torch.Tensor,
                  mask: torch.Tensor, weight: torch.Tensor,
                  autocast: contextlib.AbstractContextManager) -> dict[str, torch.Tensor]:
        """The recipe's terms of one step: ``{"extra": differentiable sum, name_side: detached term}``.

        Args:
            outs: per side, the decoder's ``(rgb, mask)`` ``(B, ., S, S)``.
            x, target: ``(2B, 3, S, S)`` warped inputs and unwarped targets, RGB [0, 1].
            mask, weight: ``(2B, 1, S, S)`` landmark mask [0, 1] and region weights.
            autocast: the step's autocast context (the networks run under it).
        """
        r, b = self.recipe, len(outs[0][0])
        k = min(r.faces, b)
        extra = torch.zeros((), device=target.device)
        terms: dict[str, torch.Tensor] = {}
        for i, (side, (rgb, mask_pred)) in enumerate(zip(SIDES, outs)):
            part = slice(i * b, (i + 1) * b)
            m, t, w = mask[part], target[part], weight[part]

            def add(name: str, weight_: float, value: torch.Tensor, side: str = side) -> None:
                nonlocal extra
                extra = extra + weight_ * value
                terms[f"{name}_{side}"] = value.detach()

            if r.edge > 0:
                add("edge", r.edge, edge_loss(rgb * m, t * m, w))
            if r.mask_tv > 0:
                add("mask_tv", r.mask_tv, total_variation(mask_pred))
            if self.perceptual is not None:
                with autocast:
                    add("perceptual", r.perceptual, self.perceptual(rgb[:k] * m[:k], t[:k] * m[:k]))
            if self.adversary is not None:
                fake = mask_pred[:k] * rgb[:k] + (1 - mask_pred[:k]) * t[:k]
                cond = x[part][:k]
                add("adversarial", r.adversarial, self.adversary.generator_loss(side, fake, cond))
                self.pending[side] = (t[:k].detach(), fake.detach(), cond.detach())
            if self.identity is not None:
                pasted = rgb[:k].float() * m[:k] + t[:k] * (1 - m[:k])
                add("identity", r.identity, self.identity.between(pasted, t[:k]))
        terms["extra"] = extra
        return terms

    def after_step(self, lr: float) -> dict[str, torch.Tensor]:
        """The discriminators' update on this step's fakes (``{}`` without discriminators)."""
        if self.adversary is None or not self.pending:
            return {}
        pending, self.pending = self.pending, {}
        return self.adversary.step(pending, lr)

    def save(self, model_dir: str | os.PathLike[str], step: int) -> None:
        if self.adversary is not None:
            self.adversary.save(model_dir, step)

    def load(self, model_dir: str | os.PathLike[str]) -> None:
        if self.adversary is not None and not self.adversary.load(model_dir):
            log.info("%s has no discriminators yet; they start afresh", model_dir)
