"""Training recipes: which loss terms a run adds to the reconstruction loss, and the learning-rate schedule.

``classic`` is the deepfakes loss (L1 + DSSIM on the masked face, region weights, mask L1).
``perceptual`` adds faceswap-GAN's perceptual loss (VGG19 features, instance-normalised, per-layer
weights, on the masked face) and an identity loss (dlib's face descriptor of each reconstruction
against its real face's, as faceswap-GAN uses VGGFace). ``gan`` adds to those a least-squares adversarial
loss from one PatchGAN discriminator per side (with mixup), an edge loss and total-variation
smoothing of the decoder's mask.

The recipe is recorded in the model card (``recipe``); a resumed folder keeps its own unless
another one is asked for explicitly.

>>> sorted(RECIPES.names())
['classic', 'gan', 'perceptual']
>>> RECIPES.create("gan").adversarial > 0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from masque.errors import ConfigError
from masque.registry import Registry

__all__ = ["DEFAULT_RECIPE", "RECIPES", "Recipe", "Schedule", "lr_factor"]


@dataclass(frozen=True)
class Recipe:
    """Weights of the loss terms a recipe adds to :func:`masque.train.losses.face_loss`.

    Attributes:
        name: registry name.
        perceptual: weight of the VGG19 feature distance (0: off).
        identity: weight of the identity loss (dlib descriptor distance of each reconstruction to its
            target face; 0: off).
        adversarial: weight of the generator's least-squares GAN loss (0: no discriminators).
        edge: weight of the L1 distance between image gradients of output and target (masked).
        mask_tv: weight of the total variation of the predicted mask (keeps the attention smooth).
        faces: faces per side that go through VGG19, dlib's network and the discriminators each
            step (the first ``faces`` of the batch): what bounds the recipe's extra cost.
    """

    name: str
    perceptual: float = 0.0
    identity: float = 0.0
    adversarial: float = 0.0
    edge: float = 0.0
    mask_tv: float = 0.0
    faces: int = 2

    @property
    def needs_vgg(self) -> bool:
        return self.perceptual > 0

    @property
    def needs_discriminators(self) -> bool:
        return self.adversarial > 0


RECIPES: Registry[Recipe] = Registry("recipe")
DEFAULT_RECIPE = "classic"


@RECIPES.register("classic")
def classic() -> Recipe:
    """L1 + DSSIM + mask L1: the deepfakes loss, nothing more (the fastest step)."""
    return Recipe("classic")


@RECIPES.register("perceptual")
def perceptual() -> Recipe:
    """classic + VGG19 perceptual loss + dlib identity loss on the reconstructions + edge loss."""
    return Recipe("perceptual", perceptual=0.1, identity=0.1, edge=0.5)


@RECIPES.register("gan")
def gan() -> Recipe:
    """perceptual + PatchGAN least-squares adversarial loss (mixup), edge loss, mask TV."""
    return Recipe("gan", perceptual=0.1, identity=0.1, adversarial=0.1, edge=0.5, mask_tv=0.1)


@dataclass(frozen=True)
class Schedule:
    """Learning-rate schedule of one run: linear warm-up, then a cosine decay over the run's budget.

    Attributes:
        warmup: steps of linear warm-up from ``start`` x lr at the model's first step (a model that
            is past them at the start of a run is not warmed up again).
        start: the learning rate's fraction at step 0.
        final: the fraction the cosine decay reaches at the end of the run's budget (``steps`` or
            ``minutes``, whichever comes first); runs without a budget keep the full rate.
    """

    warmup: int = 100
    start: float = 0.1
    final: float = 0.2

    def __post_init__(self) -> None:
        if self.warmup < 0 or not 0 < self.start <= 1 or not 0 < self.final <= 1:
            raise ConfigError(f"schedule needs warmup >= 0 and start, final in (0, 1]; got {self}")


def lr_factor(schedule: Schedule, step: int, progress: float) -> float:
    """The learning rate's multiplier at model step ``step`` with ``progress`` in [0, 1] of the run done.

    >>> s = Schedule(warmup=100, start=0.1, final=0.2)
    >>> lr_factor(s, 0, 0.0), lr_factor(s, 100, 0.0), round(lr_factor(s, 500, 0.5), 3), lr_factor(s, 900, 1.0)
    (0.1, 1.0, 0.6, 0.2)
    """
    warm = 1.0 if step >= schedule.warmup else schedule.start + (1 - schedule.start) * step / schedule.warmup
    p = min(max(progress, 0.0), 1.0)
    decay = schedule.final + (1 - schedule.final) * 0.5 * (1 + math.cos(math.pi * p))
    return warm * decay
